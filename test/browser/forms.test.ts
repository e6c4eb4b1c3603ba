import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { browserAvailable, startSite } from '../helpers/browser.ts'
import { apiAs } from '../helpers/pages.ts'

const DAY = 24 * 60 * 60_000

if (browserAvailable(t)) {
  const site = await startSite(t)
  const { app } = site
  const tech = await makeUser(app, 'technician', { name: 'Dana Day', shift: 'day' })
  const mod = await makeUser(app, 'moderator', { name: 'Mo Derator' })
  const customer = await makeUser(app, 'customer', { name: 'Cleo Customer' })
  const newThread = (title: string) => apiAs<Thread>(app, tech, 'POST', '/threads', { title, body: `${title}: first report.` })

  t.test('reopening a resolved incident from its form promises the next update, as an open one does', async (t) => {
    const thread = await newThread('Mail queue stuck again')
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Queue drained.', status: 'resolved' })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    await page.goto(`/t/${thread.id}`)
    const promise = (minutes: string) => page.locator(`#compose input[name="next"][value="${minutes}"]`)
    t.ok(await promise('none').isChecked(), 'a resolved incident\'s form promises nothing')
    await page.locator('#compose select[name="status"]').selectOption('investigating')
    t.ok(await promise('30').isChecked(), 'reopened, it promises the next update in 30 min')
    await page.locator('#compose select[name="status"]').selectOption('')
    t.ok(await promise('none').isChecked(), 'left resolved, nothing again')
    await promise('15').check()
    await page.locator('#compose select[name="status"]').selectOption('identified')
    t.ok(await promise('15').isChecked(), 'a promise chosen by hand stays')
    await page.locator('#body').fill('It is back: the relay refuses mail again.')
    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    const reopened = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json() as Thread
    t.equal(reopened.status, 'identified')
    t.ok(reopened.nextUpdateAt !== null && Math.abs(Date.parse(reopened.nextUpdateAt) - (app.deps.now().getTime() + 15 * 60_000)) < 60_000, 'the next update promised in 15 min')
  })

  t.test('a first-time customer goes from "sign in to comment" to a new account, and is back on the thread to comment', async (t) => {
    const thread = await newThread('Campus Wi-Fi down')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await page.locator('.sign-in-prompt a').click()
    await page.getByRole('link', { name: 'No account yet? Create one' }).click()
    await page.getByLabel('Name').fill('Noor Student')
    await page.getByLabel('E-mail address').fill('noor.student@example.org')
    await page.getByLabel('Password').fill('a long enough passphrase')
    await page.getByRole('button', { name: 'Create my account' }).click()
    await page.waitForURL(new RegExp(`/t/${thread.id}/campus-wi-fi-down$`))
    t.equal(await page.locator('#compose #body').count(), 1, 'back on the thread, with the form to comment')
    // And back the other way: the account page's link to sign in keeps the thread too.
    await page.goto(`/register?next=/t/${thread.id}`)
    t.equal(await page.getByRole('link', { name: /sign in/i }).getAttribute('href'), `/login?next=%2Ft%2F${thread.id}`)
  })

  t.test('a reader with the thread open in two tabs posts a comment from each', async (t) => {
    const thread = await newThread('Printers offline')
    const { context, page: first } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(first, customer)
    const second = await context.newPage()
    // The same page for the same session, kept for them: both tabs get the same bytes.
    await first.goto(`/t/${thread.id}`)
    await second.goto(`/t/${thread.id}`)
    for (const [page, words] of [[first, 'Building A printers are down too.'], [second, 'And the plotter in room 12.']] as const) {
      await page.locator('#body').fill(words)
      await Promise.all([page.waitForURL(/#p-\d+$/), page.locator('#compose button[type="submit"]').click()])
    }
    const { posts } = await apiAs<{ posts: Array<{ body: string }> }>(app, customer, 'GET', `/threads/${thread.id}/posts`)
    t.same(posts.map((post) => post.body).slice(-2), ['Building A printers are down too.', 'And the plotter in room 12.'], 'both comments are posted')
  })

  t.test('Back after publishing does not offer the published text to send again', async (t) => {
    const thread = await newThread('Backup jobs failing')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('Restarted the backup scheduler.')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.locator('#compose button[type="submit"]').click()])
    await page.goBack()
    await page.waitForURL(new RegExp(`/t/${thread.id}$`))
    await page.waitForLoadState()
    t.equal(await page.locator('#body').inputValue(), '', 'the form is empty')
    t.equal(await page.locator('#posts .post__body', { hasText: 'Restarted the backup scheduler.' }).count(), 1, 'the post shows once, in the thread')
    await page.locator('#body').fill('Backups running again.')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.locator('#compose button[type="submit"]').click()])
    const { posts } = await apiAs<{ posts: Array<{ body: string }> }>(app, tech, 'GET', `/threads/${thread.id}/posts`)
    t.same(posts.map((post) => post.body).slice(-2), ['Restarted the backup scheduler.', 'Backups running again.'], 'the next post from that form is a post of its own')
    // Two posts in a row, each from the page the one before led to; then Back twice.
    await page.locator('#body').fill('Job 1 of 2 done.')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.locator('#compose button[type="submit"]').click()])
    const first = page.url()
    await page.locator('#body').fill('Job 2 of 2 done.')
    await Promise.all([page.waitForURL((url) => url.href !== first), page.locator('#compose button[type="submit"]').click()])
    await page.goBack()
    await page.waitForURL(first)
    await page.waitForLoadState()
    t.equal(await page.locator('#body').inputValue(), '', 'Back once: the second is taken')
    await page.goBack()
    await page.waitForLoadState()
    t.equal(await page.locator('#body').inputValue(), '', 'Back twice: so is the first')

    await apiAs(app, tech, 'POST', '/duty/check-in', {}, 200)
    await page.goto(`/t/${thread.id}/handover`)
    await page.locator('#done').fill('Scheduler restarted, backups running.')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.getByRole('button', { name: 'Post the handover' }).click()])
    t.notOk(await page.locator('#while-away').isVisible(), 'back on the thread from a handover, one\'s own post is not news "while you were away"')

    await page.goto('/new')
    await page.locator('#title').fill('Tape robot stuck')
    await page.locator('#body').fill('Robot arm jammed in slot 4.')
    await Promise.all([page.waitForURL(/\/t\/\d+\/tape-robot-stuck$/), page.getByRole('button', { name: 'Open the incident' }).click()])
    await page.goBack()
    await page.waitForURL(/\/new$/)
    await page.waitForLoadState()
    t.equal(await page.locator('#body').inputValue(), '', 'nor does the new incident form, once the incident is open')
    t.equal(await page.locator('#title').inputValue(), '', 'its title neither')
  })

  t.test('without JavaScript too, Back after publishing brings back no text to send twice', async (t) => {
    const thread = await newThread('Storage array degraded')
    const { context, page } = await site.open({ javaScriptEnabled: false })
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    const backToForm = async (url: RegExp) => {
      await page.goBack()
      await page.waitForURL(url)
      await page.waitForLoadState()
    }
    await page.goto(`/t/${thread.id}`)
    await page.locator('#posts .post__actions a', { hasText: 'Reply' }).first().click()
    await page.waitForURL(/replyTo=\d+/)
    t.equal(await page.evaluate(() => document.activeElement?.id), 'body', 'Reply puts the cursor in the message box')
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('Replacing disk 7 in shelf 2.')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.locator('#compose button[type="submit"]').click()])
    await backToForm(new RegExp(`/t/${thread.id}$`))
    t.equal(await page.locator('#body').inputValue(), '', 'the update form is empty')

    await apiAs(app, tech, 'POST', '/duty/check-in', {}, 200)
    await page.goto(`/t/${thread.id}/handover`)
    await page.locator('#done').fill('Disk 7 replaced, array rebuilding.')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.getByRole('button', { name: 'Post the handover' }).click()])
    await backToForm(/\/handover$/)
    t.equal(await page.locator('#done').inputValue(), '', 'so is the handover form')

    await page.goto('/new')
    await page.locator('#title').fill('Cooling alarm in hall D')
    await page.locator('#body').fill('Alarm on CRAC unit 3.')
    await Promise.all([page.waitForURL(/\/t\/\d+\/cooling-alarm-in-hall-d$/), page.getByRole('button', { name: 'Open the incident' }).click()])
    await backToForm(/\/new$/)
    t.equal(await page.locator('#title').inputValue(), '', 'and the new incident form')
    t.equal(await page.locator('#body').inputValue(), '')
    const { posts } = await apiAs<{ posts: Array<{ body: string }> }>(app, tech, 'GET', `/threads/${thread.id}/posts`)
    t.equal(posts.filter((post) => post.body === 'Replacing disk 7 in shelf 2.').length, 1, 'the update was posted once')
  })

  t.test('a customer comments, replies to an update, and slow mode answers in words', async (t) => {
    const thread = await newThread('VPN unreachable')
    const update = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Certificate expired, renewing it.' })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)

    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('Does this affect the mail client too?')
    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    const comment = page.locator('#posts > .post--comment').last()
    t.match(await comment.locator('.post__body').textContent(), /Does this affect the mail client too\?/, 'the comment is in the thread')
    t.match(await comment.locator('.post__author').textContent(), /Cleo Customer/, 'under the customer\'s name')

    await page.locator(`#p-${update.id} .post__actions a`, { hasText: 'Reply' }).click()
    await t.resolves(page.locator('#compose .replying', { hasText: `#${update.id}` }).waitFor(), 'the form says what it replies to')
    t.equal(await page.evaluate(() => document.activeElement?.id), 'body', 'and the cursor is in the message box')
    await page.locator('#body').fill('Thanks, waiting.')
    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    const reply = page.locator('#posts > .post--comment').last()
    t.match(await reply.locator('.post__reply').textContent(), new RegExp(`#${update.id}`), 'the reply links to the update')
    t.equal(await reply.locator('.post__reply a').getAttribute('href'), `/posts/${update.id}`, 'by the address that finds it in any thread')
    await page.evaluate(() => { (window as unknown as { kept: boolean }).kept = true })
    await reply.locator('.post__reply a').click()
    await page.waitForURL(new RegExp(`/t/${thread.id}#p-${update.id}$`))
    t.equal(await page.evaluate(() => (window as unknown as { kept?: boolean }).kept), true, 'on this page already: the page goes to it, without a reload')

    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { slowModeSeconds: 600 })
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('And the wiki?')
    await page.locator('#compose button[type="submit"]').click()
    const error = page.locator('#compose .form-error[role="alert"]')
    await error.waitFor()
    t.match(await error.textContent(), /Slow mode is on in this thread: you can post again in (9|10) min\./, 'a readable message, with the wait, in minutes')
    t.equal(await page.locator('#body').inputValue(), 'And the wiki?', 'what was typed is kept')
  })

  t.test('without JavaScript the thread page is complete and its forms post', async (t) => {
    const thread = await newThread('Printing service down')
    const update = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, {
      body: 'Print server rebooting.', nextUpdateAt: new Date(Date.now() + 30 * 60_000).toISOString()
    })
    await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: update.id })
    await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Is colour printing affected?' })

    const { context, page } = await site.open({ javaScriptEnabled: false })
    t.teardown(() => context.close())
    await page.goto('/')
    await page.locator('.incidents a', { hasText: 'Printing service down' }).click()
    await page.waitForURL(new RegExp(`/t/${thread.id}/`))
    t.match(await page.locator('.thread__title').textContent(), /Printing service down/, 'the list leads to the thread')
    t.match(await page.locator('#current-state .post__body').textContent(), /Print server rebooting\./, 'the current state is on top')
    t.match(await page.locator('#next-update').textContent(), /Next update/, 'with the next update promised')
    t.same((await page.locator('#posts .post__body').allTextContents()).map((s) => s.trim()),
      ['Printing service down: first report.', 'Print server rebooting.', 'Is colour printing affected?'], 'every post')
    t.equal((await page.locator('#live-status').textContent())?.trim(), '', 'no live status pretends to be live')

    await page.locator('.view-switch a', { hasText: 'Official updates only' }).click()
    t.same((await page.locator('#posts .post__body').allTextContents()).map((s) => s.trim()),
      ['Printing service down: first report.', 'Print server rebooting.'], 'the official view is a link that works without a script')

    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('Posted without a script.')
    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    t.match(await page.locator('#posts > .post').last().textContent(), /Posted without a script\./, 'a comment posts through the plain form')

    const { context: techContext, page: techPage } = await site.open({ javaScriptEnabled: false })
    t.teardown(() => techContext.close())
    await site.signIn(techPage, tech)
    await techPage.goto(`/t/${thread.id}`)
    await techPage.locator('#body').fill('Print server back.')
    await techPage.locator('#status').selectOption('monitoring')
    await techPage.locator('#compose button[type="submit"]').click()
    await techPage.waitForURL(/#p-\d+$/)
    t.match(await techPage.locator('#thread-state .status').textContent(), /Monitoring/, 'an update with its status posts too')
  })

  t.test('the pages in French have no English left, and French dates', async (t) => {
    const thread = await newThread('Panne du réseau')
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Commutateur remplacé.', nextUpdateAt: new Date(Date.now() + 3 * DAY).toISOString() })
    await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Merci.' })
    // Two days later: the times of the posts show their dates too.
    site.advance(2 * DAY)

    const english = await site.open()
    t.teardown(() => english.context.close())
    const french = await site.open({ locale: 'fr-FR', extraHTTPHeaders: { 'accept-language': 'fr' } })
    t.teardown(() => french.context.close())

    // The words of the English pages (the user's own text aside), looked for in the French ones.
    const uiWords = [
      'Sign in', 'Create an account', 'Open incidents', 'Current state', 'Posts', 'Everything', 'Official updates only',
      'Next update', 'Timeline', 'Reply', 'Day shift', 'Technician', 'Customer', 'Update', 'Comment', 'Investigating', 'Skip to',
      'Language', 'Live', 'Updates feed', 'by '
    ]
    for (const path of ['/', `/t/${thread.id}`, `/t/${thread.id}/timeline`, '/login', '/register']) {
      await english.page.goto(path)
      const englishText = await english.page.locator('body').innerText()
      await french.page.goto(path)
      t.equal(await french.page.locator('html').getAttribute('lang'), 'fr', `${path} is in French`)
      const frenchText = (await french.page.locator('body').innerText())
        .replace(/Panne du réseau|Commutateur remplacé\.|Merci\.|first report\.|Technician \d+|Customer \d+|Dana Day|Cleo Customer|English/g, '')
      // Whole words: "Comment" is not in "Commentaire".
      const has = (text: string, word: string) => new RegExp(`(?<!\\p{L})${word}(?!\\p{L})`, 'u').test(text)
      const left = uiWords.filter((word) => has(englishText, word) && has(frenchText, word))
      t.same(left, [], `${path}: no English words of the English page`)
    }

    await french.page.goto(`/t/${thread.id}`)
    const times = await french.page.locator('#posts time').allTextContents()
    t.ok(times.length >= 2, 'the posts show their times')
    for (const time of times) t.match(time, /^\d{1,2} (janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.? \d{4}/, `"${time}" is a French date`)
    const title = await french.page.locator('#posts time').first().getAttribute('title')
    t.match(title, /^(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d{1,2} \S+ \d{4}/, 'the full date on hover is French')
  })
}
