import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { browserAvailable, startSite } from '../helpers/browser.ts'
import { apiAs } from '../helpers/pages.ts'
import { PAGE_SIZE } from '../../src/web/routes/pages/shared.ts'

// A live post must reach an open page within this; the rest of the waits are generous.
const LIVE_MS = 2000

/** The bodies of the posts in the page's list, in the order shown. */
const bodies = (page: Page) => page.locator('#posts > .post .post__body').allTextContents()
  .then((texts) => texts.map((text) => text.trim()))

/** Resolves once the page's live socket is open. */
const waitForLive = (page: Page) => page.locator('#live-status[data-state="live"]').waitFor()

if (browserAvailable(t)) {
  const site = await startSite(t)
  const { app } = site
  const tech = await makeUser(app, 'technician', { name: 'Nora Night', shift: 'night' })
  const mod = await makeUser(app, 'moderator', { name: 'Mo Derator' })
  const customer = await makeUser(app, 'customer', { name: 'Cleo Customer' })
  const newThread = (title: string) => apiAs<Thread>(app, tech, 'POST', '/threads', { title, body: `${title}: first report.` })

  /**
   * A proxy in front of the site that passes pages and API calls on, and
   * refuses every WebSocket, as some do; a request `hold` says yes to is left
   * unanswered. Its address.
   */
  async function proxyWithoutSockets (t: Test, hold: (url: string) => boolean): Promise<string> {
    const target = new URL(site.base)
    const proxy = createServer((request, response) => {
      if (hold(request.url ?? '')) return
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: request.url, method: request.method, headers: request.headers }, (answer) => {
        answer.on('error', () => response.destroy())
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      })
      // A browser closing its page cuts its connections: nothing of it is the test's concern.
      for (const stream of [request, response, upstream]) stream.on('error', () => { upstream.destroy(); response.destroy() })
      request.pipe(upstream)
    })
    proxy.on('clientError', (_err, socket) => socket.destroy())
    proxy.on('upgrade', (_request, socket) => {
      socket.on('error', () => {})
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n')
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => {
      proxy.closeAllConnections()
      proxy.close(() => resolve())
    }))
    return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  }

  t.test('a technician posts an update through the form; an open page shows it live, announced', async (t) => {
    const thread = await newThread('Core router down')
    const { context: readerContext, page: reader } = await site.open()
    t.teardown(() => readerContext.close())
    await reader.goto(`/t/${thread.id}`)
    await waitForLive(reader)

    const { context: techContext, page: techPage } = await site.open()
    t.teardown(() => techContext.close())
    await site.signIn(techPage, tech)
    await techPage.goto(`/t/${thread.id}`)
    await techPage.locator('#body').fill('Spare router racked, configuring it.')
    await techPage.locator('input[name="next"][value="15"]').check()
    const posted = Date.now()
    await techPage.locator('#compose button[type="submit"]').click()
    await techPage.waitForURL(/#p-\d+$/)

    const last = reader.locator('#posts > .post').last()
    await last.locator('.post__body', { hasText: 'Spare router racked' }).waitFor({ timeout: LIVE_MS })
    t.ok(Date.now() - posted < LIVE_MS + 1000, 'the update arrived within about 2 s of the click')
    t.same(await bodies(reader), ['Core router down: first report.', 'Spare router racked, configuring it.'], 'at the end of the thread, after the first report')
    t.equal((await last.locator('.badge--shift').textContent())?.trim(), 'Night shift', 'with the shift badge of its author')
    t.match(await last.locator('.post__promise').textContent(), /Next update by/, 'and its promise')
    await t.resolves(reader.locator('#live-announce', { hasText: 'New official update by Nora Night' }).waitFor({ timeout: LIVE_MS }),
      'screen readers hear of it')
    t.match(await reader.locator('#next-update').textContent(), /Next update/, 'the thread state above shows the new promise')
    t.equal(reader.url(), `${site.base}/t/${thread.id}`, 'without a reload')
  })

  t.test('a thread longer than a page opens on its latest posts, and new ones arrive live at its end', async (t) => {
    const thread = await newThread('Storage array failed')
    for (let i = 2; i <= PAGE_SIZE + 1; i++) await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: `Check ${i}.` })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    t.equal((await bodies(page))[0], 'Check 2.', 'the page starts where its last 200 posts do')

    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Array rebuilt, volumes back.' })
    await page.locator('#posts > .post').last().locator('.post__body', { hasText: 'Array rebuilt' }).waitFor({ timeout: LIVE_MS })
    t.equal((await bodies(page)).length, PAGE_SIZE + 1, 'the new update is added at the end')
    await t.resolves(page.locator('#live-announce', { hasText: 'New official update by Nora Night' }).waitFor({ timeout: LIVE_MS }),
      'and announced')
  })

  t.test('an open page counts down to the promised update, and says when it is overdue, with no event', async (t) => {
    const thread = await newThread('Backup jobs failing')
    const due = new Date(Date.now() + 20 * 60_000).toISOString()
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Tape library rebooting.', nextUpdateAt: due })
    for (const lang of ['en', 'fr'] as const) {
      const { context, page } = await site.open(lang === 'fr' ? { locale: 'fr-FR' } : {})
      t.teardown(() => context.close())
      await page.clock.install()
      await page.goto(`/t/${thread.id}`)
      await waitForLive(page)
      const line = page.locator('#next-update')
      t.match(await line.textContent(), lang === 'en' ? /\(in (19|20) min\)/ : /\(dans (19|20)\u00a0min\)/, `${lang}: due in 20 minutes`)
      await page.clock.fastForward('10:00')
      await t.resolves(line.filter({ hasText: lang === 'en' ? /\(in (9|10) min\)/ : /\(dans (9|10)\u00a0min\)/ }).waitFor({ timeout: LIVE_MS }), `${lang}: ten minutes later, in 10`)
      await page.clock.fastForward('12:00')
      await t.resolves(line.filter({ hasText: lang === 'en' ? /^Update overdue by [12] min \(was due by/ : /^Point en retard de [12]\u00a0min \(prévu\u00a0:/ }).waitFor({ timeout: LIVE_MS }),
        `${lang}: past the time, overdue`)
      t.match(await line.getAttribute('class'), /next-update--overdue/, 'shown as overdue')
      t.equal(await line.locator('time').getAttribute('datetime'), due, 'still naming the promised time')
    }
  })

  t.test("a moderator hides a comment that arrived live, from its own form, and still reads it once hidden", async (t) => {
    const thread = await newThread('Payment gateway errors')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, mod)
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)

    const comment = await apiAs<{ id: number }>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Card numbers are posted on the other forum!' })
    const arrived = page.locator(`#p-${comment.id}`)
    await arrived.waitFor({ timeout: LIVE_MS })
    await arrived.locator('.post__hide summary').click()
    await arrived.locator('input[name="reason"]').fill('rumour, unverified')
    await arrived.locator('.post__hide button[type="submit"]').click()
    await page.waitForURL(new RegExp(`/t/${thread.id}`))
    const hidden = await apiAs<{ hidden: boolean, hiddenReason: string }>(app, mod, 'GET', `/posts/${comment.id}`)
    t.same([hidden.hidden, hidden.hiddenReason], [true, 'rumour, unverified'], 'the form that came live was taken, its CSRF token good')

    // Another moderator restores it, and hides it again: this page keeps the text, and the way to restore it.
    await apiAs(app, mod, 'POST', `/posts/${comment.id}/restore`)
    await waitForLive(page)
    await apiAs(app, mod, 'POST', `/posts/${comment.id}/hide`, { reason: 'second look: rumour' })
    await page.locator(`#p-${comment.id} .post__hidden-note`, { hasText: 'second look: rumour' }).waitFor({ timeout: LIVE_MS })
    t.match(await page.locator(`#p-${comment.id} .post__body`).textContent(), /Card numbers are posted/, 'the moderator still reads the hidden text')
    t.equal(await page.locator(`#p-${comment.id} form[action="/posts/${comment.id}/restore"]`).count(), 1, 'with the form to restore it')
  })

  t.test('a reader whose network drops gets every missed post once, in order, when it returns', async (t) => {
    const thread = await newThread('Fibre cut')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)

    await context.setOffline(true)
    await page.locator('#live-status[data-state="offline"]').waitFor()
    await t.resolves(page.locator('#live-announce', { hasText: 'Offline. The page will catch up' }).waitFor({ timeout: LIVE_MS }), 'screen readers hear the network is gone')
    for (const n of [1, 2, 3]) {
      await apiAs(app, n === 2 ? customer : tech, 'POST', `/threads/${thread.id}/posts`, { body: `Missed post ${n}.` })
    }
    t.same(await bodies(page), ['Fibre cut: first report.'], 'nothing arrives while offline')

    await context.setOffline(false)
    await page.locator('#posts > .post').nth(3).waitFor({ timeout: 10_000 })
    await waitForLive(page)
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Back live.' })
    await page.locator('#posts > .post').nth(4).waitFor({ timeout: LIVE_MS })
    t.same(await bodies(page), ['Fibre cut: first report.', 'Missed post 1.', 'Missed post 2.', 'Missed post 3.', 'Back live.'],
      'each missed post once, in order, and the page is live again')
    t.notOk(await page.locator('#live-status').getAttribute('aria-live'), 'the status line itself is not read out at every change')
    await t.resolves(page.locator('#live-announce', { hasText: /Live: new posts appear|New official update/ }).waitFor({ timeout: LIVE_MS }), 'they hear it is back')
  })

  t.test('a moderator pins a new current state; every open page shows it on top', async (t) => {
    const thread = await newThread('Storage array degraded')
    const update = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Rebuild at 40 %, reads are slow.', status: 'identified', nextUpdateAt: new Date(Date.now() + 3 * 3600_000).toISOString() })
    const readers = await Promise.all([site.open(), site.open({ locale: 'fr-FR', extraHTTPHeaders: { 'accept-language': 'fr' } })])
    t.teardown(() => Promise.all(readers.map(({ context }) => context.close())))
    for (const { page } of readers) {
      await page.goto(`/t/${thread.id}`)
      await waitForLive(page)
      t.equal(await page.locator('#current-state').count(), 0, 'no current state yet')
    }

    const { context: modContext, page: modPage } = await site.open()
    t.teardown(() => modContext.close())
    await site.signIn(modPage, mod)
    await modPage.goto(`/t/${thread.id}`)
    await modPage.locator(`#p-${update.id} form[action$="/pin"] button`).click()
    await modPage.waitForURL(/#current-state$/)
    t.match(await modPage.locator('#current-state .post__body').textContent(), /Rebuild at 40 %/, 'the moderator sees it pinned')

    for (const { page } of readers) {
      const pinned = page.locator('#current-state-slot #current-state .post__body', { hasText: 'Rebuild at 40 %' })
      await t.resolves(pinned.waitFor({ timeout: LIVE_MS }), 'an open page shows the new current state')
      const slotTop = (await page.locator('#current-state-slot').boundingBox())!.y
      const postsTop = (await page.locator('#posts').boundingBox())!.y
      t.ok(slotTop < postsTop, 'above the posts')
    }
    t.match(await readers[1]!.page.locator('#current-state-title').textContent(), /État actuel|Situation/i, 'in the reader\'s language')

    // The list follows: the pinned post is marked there, through an edit and until another is pinned.
    const reader = readers[0]!.page
    await t.resolves(reader.locator(`#p-${update.id}.post--pinned`).waitFor({ timeout: LIVE_MS }), 'the pinned post is marked in the list')
    await apiAs(app, tech, 'PATCH', `/posts/${update.id}`, { body: 'Rebuild at 60 %, reads are slow.' })
    await reader.locator(`#p-${update.id} .post__body`, { hasText: 'Rebuild at 60 %' }).waitFor({ timeout: LIVE_MS })
    t.match(await reader.locator(`#p-${update.id}`).getAttribute('class'), /post--pinned/, 'still marked once edited')
    // The current state's copy, renewed live, shows what a page loaded now shows: not the status and promise the post once set.
    for (const page of [reader, modPage]) {
      await page.locator('#current-state .post__body', { hasText: 'Rebuild at 60 %' }).waitFor({ timeout: LIVE_MS })
      t.equal(await page.locator('#current-state').locator('.post__status, .post__promise, .post__actions, .post__history').count(), 0,
        'the edited current state is shown as a page loaded now shows it, without the status, promise and actions the post carries in the list')
    }
    t.equal(await modPage.locator(`#p-${update.id} .post__history`).count(), 1, 'the moderator still finds its edit history in the list')
    const next = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Rebuild done.' })
    await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: next.id })
    await t.resolves(reader.locator(`#p-${next.id}.post--pinned`).waitFor({ timeout: LIVE_MS }), 'the newly pinned post is marked')
    t.notMatch(await reader.locator(`#p-${update.id}`).getAttribute('class'), /post--pinned/, 'the one before no longer')
    // The state it replaced goes to the earlier states, as it was last shown, saying who pinned it.
    const history = (page: Page) => page.locator('#pin-history')
    await t.resolves(history(reader).locator('summary', { hasText: 'Earlier states (1)' }).waitFor({ timeout: LIVE_MS }), 'the earlier states count it')
    t.match(await history(reader).locator('.pin-history__item').first().textContent(), /Pinned by Mo Derator[\s\S]*Rebuild at 60 %/, 'with its text as edited')
    await t.resolves(history(readers[1]!.page).locator('summary', { hasText: 'Situations précédentes (1)' }).waitFor({ timeout: LIVE_MS }), 'in French too')
    t.match(await history(readers[1]!.page).locator('.pin-history__meta').textContent(), /Épinglé par Mo Derator/)
    t.equal(await history(reader).locator('.post__body', { hasText: 'Rebuild done.' }).count(), 0, 'not the current state')

    // The moderator's page, open since before that pin, offers what it now allows.
    await t.resolves(modPage.locator(`#p-${next.id} form[action$="/unpin"] button`, { hasText: 'Unpin' }).waitFor({ timeout: LIVE_MS }), 'Unpin on the newly pinned post')
    t.equal(await modPage.locator(`#p-${update.id} form[action$="/pin"] button`).textContent(), 'Pin as current state', 'Pin on the one before')
    await modPage.locator(`#p-${next.id} form[action$="/unpin"] button`).click()
    await modPage.locator(`#p-${next.id} form[action$="/pin"]`).waitFor({ timeout: LIVE_MS })
    t.equal((await apiAs<Thread>(app, mod, 'GET', `/threads/${thread.id}`)).pinnedPostId, null, 'its Unpin takes the new pin down, with no conflict')

    // Unpinned, it goes on top of the earlier states; a post hidden since is hidden there too.
    await t.resolves(history(reader).locator('summary', { hasText: 'Earlier states (2)' }).waitFor({ timeout: LIVE_MS }), 'the unpinned state joins them')
    t.match(await history(reader).locator('.pin-history__item').first().textContent(), /Rebuild done\./, 'newest first')
    await apiAs(app, mod, 'POST', `/posts/${update.id}/hide`, { reason: 'Wrong figures' })
    await t.resolves(history(reader).locator('.post__body', { hasText: 'Rebuild at 60 %' }).waitFor({ state: 'detached', timeout: LIVE_MS }), 'a hidden post loses its text there too')
    // What the open page shows is what the page shows once loaded again.
    const live = await history(reader).innerText()
    await reader.reload()
    t.equal(await history(reader).innerText(), live, 'the same earlier states as a fresh page')
  })

  t.test('"official updates only" leaves live comments out; "N new posts" shows when scrolled away', async (t) => {
    const thread = await newThread('Campus Wi-Fi flapping')
    for (let n = 1; n <= 12; n++) {
      await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: `Earlier update ${n}.\n\nWith a second paragraph to make it long.` })
    }
    const { context, page } = await site.open({ viewport: { width: 1000, height: 600 } })
    t.teardown(() => context.close())

    await page.goto(`/t/${thread.id}?view=official`)
    await waitForLive(page)
    await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Is the library affected?' })
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Access points of the library restarted.' })
    await page.locator('#posts .post__body', { hasText: 'Access points of the library restarted.' }).waitFor({ timeout: LIVE_MS })
    t.equal(await page.locator('#posts .post__body', { hasText: 'Is the library affected?' }).count(), 0,
      'the comment that came before the update is not shown in the official view')

    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    await page.evaluate(() => window.scrollTo(0, 0))
    t.ok(await page.locator('#new-posts').isHidden(), 'no marker before anything new')
    await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Thanks, it works again.' })
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Closing soon.' })
    const marker = page.locator('#new-posts', { hasText: 'New posts below: 2' })
    await t.resolves(marker.waitFor({ timeout: LIVE_MS }), 'the marker counts the posts that arrived out of sight')
    await marker.click()
    await page.locator('#new-posts').waitFor({ state: 'hidden' })
    t.ok(await page.locator('#posts .post__body', { hasText: 'Thanks, it works again.' }).isVisible(), 'clicking it brings the first new post into view')
  })

  t.test("a reader's own comment, written in another tab, arrives live with its Edit link; another's with its Flag", async (t) => {
    const thread = await newThread('VPN gateway unreachable')
    const other = await makeUser(app, 'customer', { name: 'Olga Other' })
    for (const lang of ['en', 'fr'] as const) {
      const { context, page } = await site.open(lang === 'fr' ? { locale: 'fr-FR' } : {})
      t.teardown(() => context.close())
      await site.signIn(page, customer)
      await page.goto(`/t/${thread.id}?lang=${lang}`)
      await waitForLive(page)
      const mine = await apiAs<{ id: number }>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: `My question (${lang}).` })
      const theirs = await apiAs<{ id: number }>(app, other, 'POST', `/threads/${thread.id}/posts`, { body: `Their question (${lang}).` })
      await page.locator(`#p-${theirs.id}`).waitFor({ timeout: LIVE_MS })
      t.notMatch(await page.locator('#live-announce').textContent(), /Olga/, `${lang}: another's comment is not read out`)
      await apiAs(app, other, 'POST', `/threads/${thread.id}/posts`, { body: 'Same here.', replyTo: mine.id })
      const heard = lang === 'en' ? 'New reply to you by Olga Other' : 'Nouvelle réponse de Olga Other à votre message'
      await t.resolves(page.locator('#live-announce', { hasText: heard }).waitFor({ timeout: LIVE_MS }), `${lang}: a reply to my comment is, for screen readers`)
      const edit = page.locator(`#p-${mine.id} .post__actions a[href="/posts/${mine.id}/edit"]`)
      t.equal((await edit.textContent())?.trim(), lang === 'en' ? 'Edit' : 'Modifier', `${lang}: my comment has its Edit link`)
      t.equal(await page.locator(`#p-${mine.id} .post__flag`).count(), 0, `${lang}: and no form to flag it`)
      t.equal(await page.locator(`#p-${theirs.id} a[href$="/edit"]`).count(), 0, `${lang}: another's has no Edit link`)
      t.equal(await page.locator(`#p-${theirs.id} .post__flag`).count(), 1, `${lang}: but its form to flag it`)
      await edit.click()
      await page.waitForURL(new RegExp(`/posts/${mine.id}/edit$`))
      t.match(await page.locator('textarea').first().inputValue(), new RegExp(`My question \\(${lang}\\)\\.`), `${lang}: the link opens its edit form`)
    }
  })

  t.test('a comment the reader flagged, edited live by its author, still says they flagged it', async (t) => {
    const thread = await newThread('Printers offline')
    const other = await makeUser(app, 'customer', { name: 'Fred Flagged' })
    const theirs = await apiAs<{ id: number }>(app, other, 'POST', `/threads/${thread.id}/posts`, { body: 'Buy cheap printers here.' })
    await apiAs(app, customer, 'POST', `/posts/${theirs.id}/flags`, { reason: 'spam' })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}?lang=en`)
    await waitForLive(page)
    const post = page.locator(`#p-${theirs.id}`)
    t.equal(await post.locator('.post__flagged').textContent(), 'You flagged this comment to the moderators.', 'the page says they flagged it')
    await apiAs(app, other, 'PATCH', `/posts/${theirs.id}`, { body: 'Buy cheap printers here, now with toner.' })
    await post.locator('.post__body', { hasText: 'now with toner' }).waitFor({ timeout: LIVE_MS })
    t.equal(await post.locator('.post__flagged').count(), 1, 'the edit, pushed live, still says so')
    t.equal(await post.locator('.post__flag').count(), 0, 'and offers no form to flag it again')
  })

  t.test('a page left open turns to the next shift at its hour, with no event', async (t) => {
    const thread = await newThread('Cooling loop leak')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.clock.install()
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    const line = page.locator('#thread-duty')
    const names: Record<string, string> = { day: 'Day shift', evening: 'Evening shift', night: 'Night shift' }
    const [next, at] = ((await line.getAttribute('data-changes')) ?? '').split(' ')[0]!.split('@') as [string, string]
    t.notMatch(await line.textContent(), new RegExp(names[next]!), 'before the change, another shift is on duty')
    await page.clock.fastForward(Date.parse(at) - Date.now() + 60_000)
    await t.resolves(line.filter({ hasText: `Scheduled now: ${names[next]!}` }).waitFor({ timeout: LIVE_MS }), 'a minute past the hour, the next shift is on duty')
  })

  t.test('a reader on a phone, at the top of a long thread, sees that new posts came, and is led to them', async (t) => {
    const thread = await newThread('Campus network down')
    // The current state pinned on top, as long as they are on such a day: the posts start screens below.
    const state = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, {
      body: Array.from({ length: 12 }, (_, i) => `${i + 1}. Building ${i + 1}: fibre cut between the core and the distribution switch; a crew is on site.`).join('\n\n')
    })
    await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: state.id })
    for (let i = 2; i <= 30; i++) await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: `Building ${i} checked.` })
    const { context, page } = await site.open({ viewport: { width: 390, height: 844 } })
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    t.equal(await page.evaluate(() => window.scrollY), 0, 'the reader stays at the top, where the current state is')
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Core switch replaced.' })
    const marker = page.locator('#new-posts')
    await t.resolves(marker.filter({ hasText: 'New posts below: 1' }).waitFor({ timeout: LIVE_MS }), 'the marker shows')
    const box = await marker.boundingBox()
    t.ok(box !== null && box.y >= 0 && box.y + box.height <= 844 && box.x >= 0 && box.x + box.width <= 390, 'within the screen, not somewhere down the page')
    t.ok(await page.locator('#posts').evaluate((posts) => posts.getBoundingClientRect().top > 844), 'while the posts start below the screen')
    // The new post in the list, not the copy of the pinned one at the top.
    const newPostInView = () => {
      const top = document.querySelector('#posts > .post:last-child')?.getBoundingClientRect().top
      return top !== undefined && top >= 0 && top < 844
    }
    t.notOk(await page.evaluate(newPostInView), 'the new post is out of sight before the click')
    await marker.click()
    await t.resolves(page.waitForFunction(newPostInView, null, { timeout: 10_000 }), 'the click leads down to the new post')
    t.match(await page.locator('#posts > .post:last-child .post__body').textContent(), /Core switch replaced\./)
  })

  t.test('where no WebSocket gets through, the page asks for news instead, and offers to load it again', async (t) => {
    const thread = await newThread('Proxy blocks sockets')
    // A proxy in front that passes pages and API calls on, and refuses every WebSocket, as some do.
    let asked = 0
    const behindProxy = await proxyWithoutSockets(t, (url) => {
      if (url.startsWith(`/api/v1/threads/${thread.id}?`) || url.startsWith(`/api/v1/threads/${thread.id}/posts?`)) asked++
      return false
    })
    for (const lang of ['en', 'fr'] as const) {
      const { context, page } = await site.open({ baseURL: behindProxy, ...(lang === 'fr' && { locale: 'fr-FR' }) })
      t.teardown(() => context.close())
      await page.clock.install()
      await page.goto(`/t/${thread.id}`)
      // Ten seconds at a time of the page's clock, the socket's tries failing meanwhile.
      const passTime = async (until: () => Promise<boolean>) => {
        for (let i = 0; i < 30 && !await until(); i++) {
          await page.clock.runFor(10_000)
          await page.waitForTimeout(100)
        }
      }
      const status = page.locator('#live-status')
      const polling = lang === 'en' ? 'The live connection is not getting through: this page checks for new posts about once a minute.' : 'Le direct ne passe pas'
      await passTime(async () => ((await status.textContent()) ?? '').includes(polling))
      t.match(await status.textContent(), polling, `${lang}: the reader is told live updates do not get through, and that the page checks for news`)
      const body = `News for the ${lang} reader.`
      await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body })
      const marker = page.locator('#new-posts')
      const offer = lang === 'en' ? 'There are new posts since this page was loaded. Reload it' : 'Du nouveau depuis le chargement de cette page. Recharger la page'
      await passTime(() => marker.filter({ hasText: offer }).isVisible())
      t.ok(await marker.filter({ hasText: offer }).isVisible(), `${lang}: within a minute or so, the page says there is news`)
      const askedBefore = asked
      await page.clock.runFor(300_000)
      await page.waitForTimeout(200)
      t.equal(asked, askedBefore, `${lang}: once it has news, the page stops asking`)
      await Promise.all([page.waitForEvent('load'), marker.click()])
      t.equal((await bodies(page)).at(-1), body, `${lang}: and loads itself again with it`)
      // Loaded again, the page asks again in time: closed, it does not count among the next page's questions.
      await context.close()
    }

    // The official updates alone: a comment is no news to that page.
    const { context, page } = await site.open({ baseURL: behindProxy })
    t.teardown(() => context.close())
    await page.clock.install()
    await page.goto(`/t/${thread.id}?view=official`)
    const status = page.locator('#live-status')
    for (let i = 0; i < 30 && !((await status.textContent()) ?? '').includes('checks for news'); i++) {
      await page.clock.runFor(10_000)
      await page.waitForTimeout(100)
    }
    await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Any news?' })
    const askedAtComment = asked
    // Two polls at most 90 s apart each: up to three minutes of the page's clock.
    for (let i = 0; i < 30 && asked < askedAtComment + 2; i++) {
      await page.clock.runFor(10_000)
      await page.waitForTimeout(100)
    }
    t.ok(asked >= askedAtComment + 2, 'the official view asked twice since the comment')
    t.notOk(await page.locator('#new-posts').isVisible(), 'and found no news in it')
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Official news.' })
    for (let i = 0; i < 15 && !await page.locator('#new-posts').isVisible(); i++) {
      await page.clock.runFor(10_000)
      await page.waitForTimeout(100)
    }
    t.ok(await page.locator('#new-posts', { hasText: 'There are new posts since this page was loaded' }).isVisible(), 'an official update is')
  })

  t.test('a question for news that gets no answer is given up, and the page goes on asking', async (t) => {
    const thread = await newThread('Proxy drops requests')
    // The first question for news is left unanswered.
    let asked = 0
    const behindProxy = await proxyWithoutSockets(t, (url) => url.startsWith(`/api/v1/threads/${thread.id}?`) && ++asked === 1)
    const { context, page } = await site.open({ baseURL: behindProxy })
    t.teardown(() => context.close())
    await page.clock.install()
    await page.goto(`/t/${thread.id}`)
    for (let i = 0; i < 30 && asked < 1; i++) {
      await page.clock.runFor(10_000)
      await page.waitForTimeout(100)
    }
    t.equal(asked, 1, 'the page asked for news, and got no answer')
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'News behind the silent proxy.' })
    const marker = page.locator('#new-posts', { hasText: 'There are new posts since this page was loaded' })
    for (let i = 0; i < 30 && !await marker.isVisible(); i++) {
      await page.clock.runFor(10_000)
      await page.waitForTimeout(100)
    }
    t.ok(asked >= 2, 'it asked again')
    t.ok(await marker.isVisible(), 'and found the news')
  })

  t.test('a reader on an earlier stretch of a long thread still hears of a new official update', async (t) => {
    const thread = await newThread('Tape library jammed')
    for (let i = 2; i <= PAGE_SIZE + 1; i++) await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: `Step ${i}.` })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}?after=0`)
    await waitForLive(page)
    const shown = (await bodies(page)).length
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Library back online.' })
    await t.resolves(page.locator('#live-announce', { hasText: 'New official update by Nora Night' }).waitFor({ timeout: LIVE_MS }), 'announced')
    t.equal((await bodies(page)).length, shown, 'though not added to a stretch that does not end the thread')
    const marker = page.locator('#new-posts')
    await t.resolves(marker.filter({ hasText: 'New posts: 1. Go to the latest' }).waitFor({ timeout: LIVE_MS }), 'a sighted reader sees it too')
    await Promise.all([page.waitForURL(new RegExp(`/t/${thread.id}#latest$`)), marker.click()])
    t.equal((await bodies(page)).at(-1), 'Library back online.', 'and is led to the latest posts')
    await t.resolves(page.locator('#posts > .post', { hasText: 'Library back online.' }).last().evaluate(async (post) => await new Promise<void>((resolve, reject) => {
      // In view: where the news is, not at the top of the page's 200 posts.
      new IntersectionObserver((entries, observer) => { observer.disconnect(); entries[0]!.isIntersecting ? resolve() : reject(new Error(`not in view, at ${window.scrollY}`)) }).observe(post)
    })), 'in view, at the end of the page')
  })

  t.test('live posts offer no Reply to a customer who cannot comment here (a locked thread)', async (t) => {
    const thread = await newThread('Switch stack reboot')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: true })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    const update = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Stack is back.' })
    await page.locator(`#p-${update.id}`).waitFor({ timeout: LIVE_MS })
    t.equal(await page.locator(`#p-${update.id} a[href*="replyTo="]`).count(), 0, 'no Reply link on the live post')

    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: false })
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    const next = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Monitoring.' })
    await page.locator(`#p-${next.id}`).waitFor({ timeout: LIVE_MS })
    t.equal(await page.locator(`#p-${next.id} a[href*="replyTo="]`).count(), 1, 'once it is open again, the Reply link is there')
  })

  t.test('an anonymous reader is invited to sign in to comment only while the thread takes comments, live too', async (t) => {
    const thread = await newThread('Core router swap')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: true })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    const invitation = page.getByRole('link', { name: 'Sign in to comment' })
    t.notOk(await invitation.isVisible(), 'a locked thread invites nobody to sign in to comment')
    t.ok(await page.locator('#locked-notice').isVisible(), 'it says it is locked')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: false })
    await t.resolves(invitation.waitFor({ state: 'visible', timeout: LIVE_MS }), 'unlocked, the invitation comes back live')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: true })
    await t.resolves(invitation.waitFor({ state: 'hidden', timeout: LIVE_MS }), 'locked again, it goes')
  })

  t.test("a lock arriving while a customer writes closes their form live, their text kept; unlocked, it works again", async (t) => {
    const thread = await newThread('Storage array degraded')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}?lang=en`)
    await waitForLive(page)
    const body = page.locator('#compose textarea[name="body"]')
    await body.fill('Is my volume safe?')

    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: true })
    const notice = page.locator('#compose-closed')
    await t.resolves(notice.filter({ hasText: 'This thread is locked: you can read it but no longer comment. What you wrote was not sent; it stays below to copy.' }).waitFor({ timeout: LIVE_MS }), 'the customer is told at once')
    await t.resolves(page.locator('#live-announce', { hasText: 'This thread is locked' }).waitFor({ timeout: LIVE_MS }), 'and a screen reader hears it')
    t.notOk(await page.locator('#posts .post__actions a[href*="replyTo="]').first().isVisible(), 'the posts already there no longer offer Reply')
    t.ok(await page.locator('#compose button[type="submit"]').isDisabled(), 'the form can no longer be sent')
    t.equal(await body.inputValue(), 'Is my volume safe?', 'their text is still there')
    t.equal(await body.evaluate((el) => (el as HTMLTextAreaElement).readOnly), true, 'to copy, not to edit')
    t.ok(await page.locator('#locked-notice').isVisible(), 'the thread says it is locked')
    const update = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Rebuilding the array.' })
    await page.locator(`#p-${update.id}`).waitFor({ timeout: LIVE_MS })
    t.equal(await page.locator(`#p-${update.id} a[href*="replyTo="]`).count(), 0, 'nor does a live post offer Reply')

    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: false })
    await t.resolves(notice.waitFor({ state: 'detached', timeout: LIVE_MS }), 'unlocked, the notice goes')
    t.notOk(await page.locator('#compose button[type="submit"]').isDisabled(), 'and the form works again')
    t.notOk(await page.locator('#locked-notice').isVisible(), 'the thread no longer says it is locked')
    t.ok(await page.locator('#posts .post__actions a[href*="replyTo="]').first().isVisible(), 'and its posts offer Reply again')
    await Promise.all([page.waitForURL(new RegExp(`/t/${thread.id}`)), page.locator('#compose button[type="submit"]').click()])
    await t.resolves(page.locator('#posts .post__body', { hasText: 'Is my volume safe?' }).waitFor(), 'the comment is sent')

    const { context: frenchContext, page: french } = await site.open({ locale: 'fr-FR' })
    t.teardown(() => frenchContext.close())
    await site.signIn(french, customer)
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: true })
    await french.goto(`/t/${thread.id}?lang=fr`)
    await waitForLive(french)
    t.match(await french.locator('#compose .notice').textContent(), /Ce fil est verrouillé/, 'a page that came locked has no form')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { locked: false })
    await t.resolves(french.locator('#compose .notice', { hasText: 'Les commentaires sont de nouveau ouverts\u00a0: rechargez la page pour commenter.' }).waitFor({ timeout: LIVE_MS }), 'it says when comments open again, in French')
    await french.goto(`/t/${thread.id}?lang=en`)
  })

  t.test('crisis mode turned on shows its banner on open pages, and goes with it', async (t) => {
    const thread = await newThread('Hosting panel unreachable')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    const banner = page.locator('#crisis-banner')
    t.notOk(await banner.isVisible(), 'no banner out of crisis')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { crisisMode: true, crisisReadOnly: true })
    await t.resolves(banner.filter({ hasText: 'Crisis mode.' }).waitFor({ timeout: LIVE_MS }), 'the banner shows at once')
    t.ok(await banner.locator('[data-crisis="read-only"]').isVisible(), 'saying comments are closed')
    t.notOk(await banner.locator('[data-crisis="slow"]').isVisible())
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { crisisMode: false })
    await t.resolves(banner.waitFor({ state: 'hidden', timeout: LIVE_MS }), 'and goes when the crisis mode ends')
  })

  t.test('a thread renamed by a moderator shows its new title on open pages, in the heading and the tab', async (t) => {
    const thread = await newThread('All DC-2 servers down')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    t.equal(await page.title(), '\u2068All DC-2 servers down\u2069 · Sitrep')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { title: 'DC-2: recovery in progress' })
    await t.resolves(page.locator('h1.thread__title', { hasText: 'DC-2: recovery in progress' }).waitFor({ timeout: LIVE_MS }), 'the heading, at once')
    t.equal(await page.title(), '\u2068DC-2: recovery in progress\u2069 · Sitrep', 'and the tab')
  })

  t.test("a moderator's open settings follow another's changes, but for what they are changing themselves", async (t) => {
    const thread = await newThread('Mail relay queueing')
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, mod)
    await page.goto(`/t/${thread.id}`)
    await waitForLive(page)
    await page.locator('#settings summary').click()
    const title = page.locator('#thread-title')
    const slowMode = page.locator('#slow-mode')
    const locked = page.locator('#settings input[name="locked"]')
    // This moderator is setting slow mode; a colleague renames, locks, and sets slow mode too.
    await slowMode.fill('30')
    await apiAs(app, mod, 'PATCH', `/threads/${thread.id}`, { title: 'Mail relay: queue draining', locked: true, slowModeSeconds: 120 })
    await t.resolves(page.locator('h1.thread__title', { hasText: 'queue draining' }).waitFor({ timeout: LIVE_MS }))
    t.equal(await title.inputValue(), 'Mail relay: queue draining', 'the title field shows the new title')
    t.ok(await locked.isChecked(), 'the thread shows as locked')
    t.equal(await slowMode.inputValue(), '30', 'the slow mode being typed is kept')
    // Saved, it changes what this moderator changed, and undoes nothing of the colleague's.
    await page.locator('#settings button[type="submit"]').click()
    await page.waitForLoadState()
    const after = await apiAs<Thread & { slowModeSeconds: number }>(app, mod, 'GET', `/threads/${thread.id}`)
    t.equal(after.slowModeSeconds, 30, 'slow mode as this moderator set it')
    t.equal(after.title, 'Mail relay: queue draining', 'the new title kept')
    t.equal(after.locked, true, 'still locked')
  })
}
