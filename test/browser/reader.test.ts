import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { browserAvailable, startSite } from '../helpers/browser.ts'
import { apiAs } from '../helpers/pages.ts'

if (browserAvailable(t)) {
  const site = await startSite(t)
  const { app } = site
  const tech = await makeUser(app, 'technician', { name: 'Dana Day', shift: 'day' })
  const mod = await makeUser(app, 'moderator')
  const customer = await makeUser(app, 'customer', { name: 'Cleo Customer' })
  const newThread = (title: string) => apiAs<Thread>(app, tech, 'POST', '/threads', { title, body: `${title}: first report.` })

  t.test('times are shown in the reader\'s time zone, the full date on hover', async (t) => {
    const thread = await newThread('Authentication errors')
    const post = await apiAs<{ createdAt: string }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Token service restarted.' })
    const at = new Date(post.createdAt)
    const inZone = (timeZone: string, options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat('en-GB', { ...options, timeZone }).format(at)

    const { context, page } = await site.open({ timezoneId: 'Pacific/Auckland' })
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    const time = page.locator(`#posts time[datetime="${at.toISOString()}"]`)
    await time.and(page.locator('[data-local]')).waitFor()
    t.equal(await time.textContent(), inZone('Pacific/Auckland', { dateStyle: 'medium', timeStyle: 'short' }), 'in Auckland, Auckland\'s clock')
    t.equal(await time.getAttribute('title'), inZone('Pacific/Auckland', { dateStyle: 'full', timeStyle: 'long' }), 'the full date, with its zone, on hover')

    const { context: plain, page: noScript } = await site.open({ timezoneId: 'Pacific/Auckland', javaScriptEnabled: false })
    t.teardown(() => plain.close())
    await noScript.goto(`/t/${thread.id}`)
    t.equal(await noScript.locator(`#posts time[datetime="${at.toISOString()}"]`).textContent(), inZone('UTC', { dateStyle: 'medium', timeStyle: 'short' }),
      'without a script, the organisation\'s clock')
  })

  t.test('back on a thread, "while you were away" counts the updates and comments', async (t) => {
    const thread = await newThread('Backup jobs failing')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    t.ok(await page.locator('#while-away').isHidden(), 'nothing on the first visit')
    await page.goto('/')

    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Disk full on the backup server.' })
    await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Were last night\'s backups made?' })
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Space freed, jobs restarted.' })

    await page.goto(`/t/${thread.id}`)
    const away = page.locator('#while-away')
    await away.waitFor()
    t.equal(await away.textContent(), 'While you were away: 2 official updates, 1 comment.')
    await page.reload()
    t.ok(await page.locator('#while-away').isHidden(), 'once seen, they are not news any more')

    const { context: other, page: otherPage } = await site.open()
    t.teardown(() => other.close())
    await otherPage.goto(`/t/${thread.id}`)
    t.ok(await otherPage.locator('#while-away').isHidden(), 'kept per browser: another one has seen nothing before')
  })

  t.test('a draft survives a reload and a failed post, and goes once the post is taken', async (t) => {
    const thread = await newThread('Web hosting slow')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').pressSequentially('Is my shop affected?')
    await page.reload()
    t.equal(await page.locator('#body').inputValue(), 'Is my shop affected?', 'the text is back after a reload')
    t.ok(await page.locator('.draft-note').isVisible(), 'with a word saying it was kept')

    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { slowModeSeconds: 600 })
    await page.locator('#body').pressSequentially('And my mailboxes?')
    await page.locator('#compose button[type="submit"]').click()
    await page.locator('#compose .form-error').waitFor()
    await page.goto(`/t/${thread.id}`)
    t.equal(await page.locator('#body').inputValue(), 'And my mailboxes?', 'a post the server refused is still a draft')

    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { slowModeSeconds: 0 })
    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    t.match(await page.locator('#posts > .post').last().textContent(), /And my mailboxes\?/, 'posted')
    await page.goto(`/t/${thread.id}`)
    t.equal(await page.locator('#body').inputValue(), '', 'the draft is gone once the server has taken it')
  })

  t.test("on a shared computer, a draft is its writer's: the next person does not find it", async (t) => {
    const thread = await newThread('Campus kiosk outage')
    const other = await makeUser(app, 'customer', { name: 'Omar Other' })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').pressSequentially('My student number is 1234.')
    await site.signIn(page, other)
    await page.goto(`/t/${thread.id}`)
    t.equal(await page.locator('#body').inputValue(), '', 'another account signed in on the same browser gets an empty form')

    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    t.equal(await page.locator('#body').inputValue(), 'My student number is 1234.', 'its writer still has it')
    await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.locator('form[action="/logout"] button').click()])
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    t.equal(await page.locator('#body').inputValue(), '', 'signing out forgot it')
  })

  t.test('a handover written while the session ended is kept for when its writer is back', async (t) => {
    const thread = await newThread('Core switch replaced')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    await page.goto(`/t/${thread.id}/handover`)
    await page.locator('textarea[name="done"]').pressSequentially('Replaced the supervisor card.')
    await page.locator('textarea[name="pending"]').pressSequentially('Firmware check.')
    // The session ends on the server meanwhile (it ran out, or an admin ended it).
    await app.db.deleteFrom('sessions').where('user_id', '=', tech.actor.id).execute()
    await page.locator('form[action$="/handover"] button[type="submit"]').click()
    await page.waitForLoadState()
    t.not((await page.locator('h1').first().textContent())?.trim(), thread.title, 'the form was refused')

    await site.signIn(page, tech)
    await page.goto(`/t/${thread.id}/handover`)
    t.equal(await page.locator('textarea[name="done"]').inputValue(), 'Replaced the supervisor card.', 'what was written is back')
    t.equal(await page.locator('textarea[name="pending"]').inputValue(), 'Firmware check.')
    t.ok(await page.locator('.draft-note').first().isVisible(), 'with a word saying it was kept')

    await page.locator('form[action$="/handover"] button[type="submit"]').click()
    await page.waitForURL(new RegExp(`/t/${thread.id}#p-\\d+$`))
    await page.goto(`/t/${thread.id}/handover`)
    t.equal(await page.locator('textarea[name="done"]').inputValue(), '', 'once the handover is posted, the form is empty again')
  })

  t.test('an edit being written survives a reload and an ended session', async (t) => {
    const thread = await newThread('Feed B maintenance')
    const post = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Feed A restored.' })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    await page.goto(`/posts/${post.id}/edit`)
    const field = page.locator('textarea[name="body"]')
    await field.fill('')
    await field.pressSequentially('Feed A restored. Feed B at 80%.')
    await page.reload()
    t.equal(await field.inputValue(), 'Feed A restored. Feed B at 80%.', 'a reload gives the edit back, not the post\'s text')
    t.ok(await page.locator('.draft-note').isVisible(), 'with a word saying it was kept')

    await app.db.deleteFrom('sessions').where('user_id', '=', tech.actor.id).execute()
    await page.locator('form[action$="/edit"] button[type="submit"]').click()
    await page.waitForLoadState()
    await site.signIn(page, tech)
    await page.goto(`/posts/${post.id}/edit`)
    t.equal(await field.inputValue(), 'Feed A restored. Feed B at 80%.', 'after signing in again, the edit is still there')
    await page.locator('form[action$="/edit"] button[type="submit"]').click()
    await page.waitForURL(new RegExp(`#p-${post.id}$`))

    await apiAs(app, mod, 'PATCH', `/posts/${post.id}`, { body: 'Feed A and B restored.' })
    await page.goto(`/posts/${post.id}/edit`)
    t.equal(await field.inputValue(), 'Feed A and B restored.', 'once saved, the form shows the post as it is, with no old draft')
  })

  t.test("a staff member's open page follows who is on duty, and the overdue updates, without a reload", async (t) => {
    const thread = await newThread('Mail queue stuck')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    await page.clock.install()
    await page.goto(`/t/${thread.id}`)
    await page.evaluate(() => { (window as unknown as { kept: boolean }).kept = true })
    t.notMatch(await page.locator('#duty').textContent(), /Moderator/, 'the moderator is not on duty yet')

    await apiAs(app, mod, 'POST', '/duty/check-in', undefined, 200)
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Flushing the queue.', nextUpdateAt: new Date(Date.now() + 1500).toISOString() })
    await new Promise((resolve) => setTimeout(resolve, 2000))
    await page.clock.fastForward('01:05')
    await t.resolves(page.locator('#duty .badge--moderator').waitFor({ timeout: 5000 }), 'a minute later, the moderator who checked in is listed')
    await t.resolves(page.locator('#staff-alerts', { hasText: 'Mail queue stuck' }).waitFor({ timeout: 5000 }), 'and the update now overdue is in the banner')
    t.match(await page.locator('#staff-alerts').textContent(), /overdue by 1 min/)
    site.advance(5 * 60_000)
    await page.clock.fastForward('01:05')
    await t.resolves(page.locator('#staff-alerts a', { hasText: /overdue by [56] min/ }).waitFor({ timeout: 5000 }), 'a minute later, its minutes have counted on')
    t.equal(await page.locator('#staff-alerts').getAttribute('aria-live'), 'off', 'quietly: a minute more is not read out as a new alert')
    t.equal(await page.evaluate(() => (window as unknown as { kept?: boolean }).kept), true, 'without a reload')
    await apiAs(app, mod, 'POST', '/duty/check-out', undefined, 200)
  })

  t.test("a reader's open page follows who is on duty too, every five minutes", async (t) => {
    const thread = await newThread('Printing service down')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.clock.install()
    await page.goto(`/t/${thread.id}`)
    await page.evaluate(() => { (window as unknown as { kept: boolean }).kept = true })
    t.notMatch(await page.locator('#duty').textContent(), /Moderator/, 'the moderator is not on duty yet')

    await apiAs(app, mod, 'POST', '/duty/check-in', undefined, 200)
    t.teardown(() => apiAs(app, mod, 'POST', '/duty/check-out', undefined, 200))
    await page.clock.fastForward('04:00')
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.equal(await page.locator('#duty .badge--moderator').count(), 0, 'not read again every minute: a crowd of readers is many pages')
    await page.clock.fastForward('01:05')
    await t.resolves(page.locator('#duty .badge--moderator').waitFor({ timeout: 5000 }), 'the moderator who checked in is listed')
    t.equal(await page.evaluate(() => (window as unknown as { kept?: boolean }).kept), true, 'without a reload')
    t.equal(await page.locator('#staff-alerts').count(), 0, 'no staff banner on a reader\'s page')
  })

  t.test('staff preview their Markdown as it will be posted', async (t) => {
    const thread = await newThread('DNS resolution slow')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, tech)
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('Resolvers **restarted**:\n\n- ns1\n- ns2\n\n<script>alert(1)</script>')
    await page.locator('#compose button', { hasText: 'Preview' }).click()
    const preview = page.locator('#compose-preview')
    await preview.locator('strong', { hasText: 'restarted' }).waitFor()
    t.same(await preview.locator('li').allTextContents(), ['ns1', 'ns2'], 'rendered as the post will be')
    t.equal(await preview.locator('script').count(), 0, 'and sanitised the same way')
    t.equal(await page.locator('#posts .post').count(), 1, 'nothing was posted')

    const anonymous = await site.open()
    t.teardown(() => anonymous.context.close())
    const refused = await anonymous.page.request.post('/api/v1/preview', { data: { body: '**x**' } })
    t.equal(refused.status(), 401, 'a reader who is not signed in gets no preview')
    const noToken = await page.request.post('/api/v1/preview', { data: { body: '**x**' } })
    t.equal(noToken.status(), 403, 'nor a call that does not carry the page\'s CSRF token')
  })

  t.test('a name with a right-to-left override does not turn the words after it around', async (t) => {
    // U+202E forces what follows to read right to left, to the end of its paragraph, unless isolated.
    const spoofer = await makeUser(app, 'technician', { name: '\u202EEve Evening' })
    await apiAs(app, spoofer, 'POST', '/duty/check-in', { lead: true }, 200)
    t.teardown(() => apiAs(app, spoofer, 'POST', '/duty/check-out', {}, 200))
    const thread = await newThread('Mail queue stuck')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    // Where the name, its role badge and its time are drawn, left to right.
    const [name, badge, since] = await page.locator('#duty .duty__people li').filter({ hasText: 'Eve Evening' }).evaluate((person) => {
      const walker = document.createTreeWalker(person, NodeFilter.SHOW_TEXT)
      let text = walker.nextNode()
      while (text !== null && !(text.nodeValue ?? '').includes('Eve Evening')) text = walker.nextNode()
      const range = document.createRange()
      range.selectNodeContents(text!)
      return [range.getBoundingClientRect(), person.querySelector('.badge--role')!.getBoundingClientRect(), person.querySelector('.duty__since')!.getBoundingClientRect()]
        .map((box) => ({ left: box.left, right: box.right }))
    })
    t.ok(badge!.left >= name!.right, 'the role badge stays after the name')
    t.ok(since!.left >= badge!.right, 'and the time after the badge')
    t.equal(await page.locator('.thread__title').getAttribute('dir'), 'auto', 'a title takes the direction of its own text')
  })
}
