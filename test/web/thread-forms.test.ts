import t from 'tap'
import { BODY_MAX } from '../../src/domain/posts.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { apiAs, sectionById, signIn, submitForm } from '../helpers/pages.ts'

t.test('a customer comments through the form, and replies to a post', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer', { name: 'Carla' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Printing service down', body: 'Queue stuck.' })
  const cookies = await signIn(app, customer)

  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(page, /<meta name="csrf-token" content="[^"]+">/, 'the head carries a token for the live script')
  t.match(page, /<form method="post" action="\/logout"/, 'the user can sign out')
  t.notMatch(page, /name="next"/, 'no next-update choice for a customer')
  t.notMatch(page, /name="kind"/, 'nor a kind')
  t.notMatch(page, /action="\/t\/\d+\/pin"|action="\/posts\/\d+\/hide"|action="\/t\/\d+\/settings"/, 'no moderator actions')

  const noToken = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies, payload: { body: 'sneaky' } })
  t.equal(noToken.statusCode, 403, 'a form without its CSRF token is refused')

  const sent = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Building B printers too.' })
  t.equal(sent.statusCode, 303)
  const match = /^\/t\/(\d+)#p-(\d+)$/.exec(String(sent.headers.location))
  t.ok(match, 'back to the thread, at the new post')
  const after = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(sectionById(after, `p-${match![2]}`), /Building B printers too\./, 'the comment is there')

  const first = (await apiAs<{ posts: Post[] }>(app, tech, 'GET', `/threads/${thread.id}/posts`)).posts[0]!
  t.match(sectionById(page, `p-${first.id}`), new RegExp(`href="/t/${thread.id}\\?replyTo=${first.id}#body" aria-label="Reply to #${first.id}, by [^"]+">Reply</a>`), 'each post has a reply link, to the message box')
  const replyPage = (await app.inject({ url: `/t/${thread.id}?replyTo=${first.id}`, cookies })).body
  t.match(replyPage, new RegExp(`<input type="hidden" name="replyTo" value="${first.id}">`), 'which fills the hidden field')
  const reply = await app.inject({
    method: 'POST', url: `/t/${thread.id}/posts`, cookies,
    payload: { _csrf: csrfFieldOf(replyPage), body: 'Thanks!', replyTo: String(first.id) }
  })
  t.equal(reply.statusCode, 303)
  t.match((await app.inject({ url: `/t/${thread.id}` })).body, new RegExp(`<a href="/posts/${first.id}">in reply to #${first.id}</a>`))

  // A reply to what is no post (an address edited by hand, a post number beyond any): refused as the API refuses it, the text kept.
  for (const replyTo of ['abc', '99999999999', '0']) {
    const astray = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Is it fixed yet?', replyTo })
    t.equal(astray.statusCode, 400, `a reply to "${replyTo}" is refused`)
    t.match(sectionById(astray.body, 'compose'), /Is it fixed yet\?/, 'with its text kept')
  }
  t.notMatch((await app.inject({ url: `/t/${thread.id}` })).body, /Is it fixed yet/, 'and not posted as a plain comment')

  const empty = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: '   ' })
  t.equal(empty.statusCode, 400)
  t.match(sectionById(empty.body, 'compose'), /role="alert">Write something first\./, 'an empty comment is explained next to the form')
})

t.test('a form sent twice posts once', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Wifi flaky', body: 'Checking.' })
  const cookies = await signIn(app, customer)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  const key = /name="idempotencyKey" value="([^"]+)"/.exec(page)![1]!
  const payload = { _csrf: csrfFieldOf(page), idempotencyKey: key, body: 'Same here.' }
  const first = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies, payload })
  const second = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies, payload })
  t.equal(second.headers.location, first.headers.location, 'the resent form leads to the same post')
  const html = (await app.inject({ url: `/t/${thread.id}` })).body
  t.equal(html.split('Same here.').length - 1, 1, 'which is there once')

  // Two tabs of the same page (kept for her: the same key), each with its own words, as without JavaScript.
  const fromTab = (body: string) => app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies, payload: { ...payload, body } })
  const one = await fromTab('Building A is down.')
  const other = await fromTab('Building B too.')
  t.equal(one.statusCode, 303)
  t.equal(other.statusCode, 303, 'the second tab\'s comment is taken, not refused')
  t.not(other.headers.location, one.headers.location)
  const { posts } = await apiAs<{ posts: Array<{ body: string }> }>(app, customer, 'GET', `/threads/${thread.id}/posts`)
  t.same(posts.map((post) => post.body).slice(-2), ['Building A is down.', 'Building B too.'], 'both are posted')
})

t.test('staff post an update with a status and a promise from the form', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { shift: 'evening' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Database cluster failover', body: 'Primary lost.' })
  const cookies = await signIn(app, tech)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  const compose = sectionById(page, 'compose')
  t.match(compose, /Post an official update/)
  for (const minutes of [15, 30, 60]) t.match(compose, new RegExp(`name="next" value="${minutes}"`), `a ${minutes} min choice`)
  t.match(compose, /name="next" value="none"/)

  const sent = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, {
    body: 'Replica promoted.', kind: 'update', status: 'monitoring', next: '15'
  })
  t.equal(sent.statusCode, 303, sent.body)
  const html = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(sectionById(html, 'next-update'), /\(in 15 min\)/)
  t.match(html, /<p class="thread__badges">\s*<span class="status status--monitoring">Monitoring<\/span>/)

  // A status chosen for a comment would be lost unseen: refused, the text kept.
  const resolvedComment = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'All fixed, closing.', kind: 'comment', status: 'resolved', next: '30' })
  t.equal(resolvedComment.statusCode, 400)
  t.match(resolvedComment.body, /A comment cannot change the status: post an update, or leave the status as it is\./, 'said of the status chosen, not of a promise it did not make')
  t.match(resolvedComment.body, /All fixed, closing\./, 'the text is kept')
  // Answering a customer as a comment: the form still sends its ticked promise, which a comment leaves.
  const note = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Just a note', kind: 'comment', status: '', next: '30' })
  t.equal(note.statusCode, 303, 'a staff comment goes through')
  const after = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(sectionById(after, 'next-update'), /\(in 15 min\)/, 'the promise of the last update stands')
  t.match(after, /<span class="status status--monitoring">Monitoring<\/span>/, 'and so does the status')
  t.match(after, /class="post post--comment"[^>]*>[\s\S]*?Just a note/, 'posted as a comment')

  const empty = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: '  ', kind: 'comment', next: '30' })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /<option value="comment" selected>/, 'a refused form keeps the choices made')
})

t.test('a hidden comment shows the reason, not its text, to readers', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const mod = await makeUser(app, 'moderator')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Phone lines down', body: 'Carrier issue.' })
  const rude = await apiAs<Post>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'You are all useless clowns' })

  const modCookies = await signIn(app, mod)
  const modPage = (await app.inject({ url: `/t/${thread.id}`, cookies: modCookies })).body
  t.match(sectionById(modPage, `p-${rude.id}`), new RegExp(`action="/posts/${rude.id}/hide"`), 'a moderator can hide it')
  const refused = await submitForm(app, modCookies, `/t/${thread.id}`, `/posts/${rude.id}/hide`, { reason: ' ' })
  t.equal(refused.statusCode, 400)
  t.match(refused.body, new RegExp(`role="alert">Give a reason of 1 to 500 characters\\. <a href="#p-${rude.id}">Go to post #${rude.id}</a>`), 'not without a reason, said with a way to the post')
  t.match(sectionById(modPage, `p-${rude.id}`), /name="reason" required maxlength="500" pattern="[^"]+"/, 'a reason of spaces alone is stopped in the browser already')
  const hidden = await submitForm(app, modCookies, `/t/${thread.id}`, `/posts/${rude.id}/hide`, { reason: 'Insults <b>staff</b>' })
  t.equal(hidden.statusCode, 303)
  t.equal(hidden.headers.location, `/t/${thread.id}#p-${rude.id}`)

  const reader = (await app.inject({ url: `/t/${thread.id}` })).body
  const post = sectionById(reader, `p-${rude.id}`)
  t.match(post, /Hidden by a moderator: <bdi>Insults &lt;b&gt;staff&lt;\/b&gt;<\/bdi>/, 'the reason, escaped')
  t.notMatch(reader, /useless clowns/, 'not the text')
  t.match(post, /class="post post--comment post--hidden"/)

  const modView = (await app.inject({ url: `/t/${thread.id}`, cookies: modCookies })).body
  t.match(sectionById(modView, `p-${rude.id}`), /useless clowns/, 'moderators still see it')
  const restored = await submitForm(app, modCookies, `/t/${thread.id}`, `/posts/${rude.id}/restore`, {})
  t.equal(restored.statusCode, 303)
  t.match((await app.inject({ url: `/t/${thread.id}` })).body, /useless clowns/, 'restored for everyone')
})

t.test('a moderator who hides the pinned post is told readers now see no current state', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const mod = await makeUser(app, 'moderator')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail delayed', body: 'Queues growing.' })
  const premature = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'All mail delivered.' })
  const other = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Queue at 40,000.' })
  const wrong = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Queue at 4,000,000.' })
  await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: premature.id })
  const cookies = await signIn(app, mod)

  const hidden = await submitForm(app, cookies, `/t/${thread.id}`, `/posts/${premature.id}/hide`, { reason: 'Premature' })
  t.equal(hidden.statusCode, 303)
  t.equal(hidden.headers.location, `/t/${thread.id}?unpinned=${premature.id}#p-${premature.id}`)
  const back = (await app.inject({ url: hidden.headers.location as string, cookies })).body
  t.match(back, new RegExp(`role="status">Post #${premature.id} was the current state pinned at the top: hidden, it is pinned no longer, and readers see no current state\\.`), 'the moderator is told')
  t.notMatch(back, /id="current-state"/)
  // Another moderator, who reads French (a choice kept with their account).
  const french = (await app.inject({ url: `/t/${thread.id}?unpinned=${premature.id}&lang=fr`, cookies: await signIn(app, await makeUser(app, 'moderator')) })).body
  t.match(french, new RegExp(`Le message n°\u00a0${premature.id} était la situation actuelle épinglée en haut\u00a0: masqué`), 'in French too')
  t.notMatch((await app.inject({ url: hidden.headers.location as string })).body, /was the current state pinned/, 'not said to readers')
  t.notMatch((await app.inject({ url: `/t/${thread.id}?unpinned=${other.id}`, cookies })).body, /was the current state pinned/, 'nor of a post that was not the one pinned')

  // Hiding a post that is not pinned says nothing of pins.
  const plain = await submitForm(app, cookies, `/t/${thread.id}`, `/posts/${wrong.id}/hide`, { reason: 'Wrong figure' })
  t.equal(plain.headers.location, `/t/${thread.id}#p-${wrong.id}`, 'the address names no unpinning')
  // Restored, or another post pinned since: nothing to say.
  const notice = async () => (await app.inject({ url: hidden.headers.location as string, cookies })).body
  await apiAs(app, mod, 'POST', `/posts/${premature.id}/restore`)
  t.notMatch(await notice(), /was the current state pinned/, 'not once the post is restored')
  await apiAs(app, mod, 'POST', `/posts/${premature.id}/hide`, { reason: 'Premature after all' })
  t.match(await notice(), /was the current state pinned/, 'hidden again, the last one pinned')
  await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: other.id })
  t.notMatch(await notice(), /was the current state pinned/, 'not once another post is pinned')
})

t.test('moderators pin, unpin and lock from the page', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const mod = await makeUser(app, 'moderator')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Cooling failure', body: 'Chillers stopped at 02:10.' })
  const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Temperature back to normal.' })
  const cookies = await signIn(app, mod)

  const pinned = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/pin`, { postId: String(update.id) })
  t.equal(pinned.statusCode, 303)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'current-state'), /Temperature back to normal\./)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}`, cookies })).body, `p-${update.id}`), new RegExp(`action="/t/${thread.id}/unpin"[^]*name="postId" value="${update.id}"`), 'its Unpin form names the post')

  // Another moderator pins a newer post meanwhile: the Unpin of the page opened before leaves it be.
  const newer = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Chiller 2 restarted too.' })
  await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: newer.id })
  const stale = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/unpin`, { postId: String(update.id) })
  t.equal(stale.statusCode, 409)
  t.match(stale.body, /Another post was pinned meanwhile/)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'current-state'), /Chiller 2 restarted too\./, 'the newer current state stays')

  const unpinned = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/unpin`, { postId: String(newer.id) })
  t.equal(unpinned.statusCode, 303)
  t.notMatch((await app.inject({ url: `/t/${thread.id}` })).body, /id="current-state"/)

  t.match((await app.inject({ url: `/t/${thread.id}` })).body, /<p class="notice notice--locked" id="locked-notice" hidden>/, 'an open thread keeps its locked notice hidden')
  const locked = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/settings`, { locked: 'on', slowModeSeconds: '30' })
  t.equal(locked.statusCode, 303)
  const customerPage = (await app.inject({ url: `/t/${thread.id}`, cookies: await signIn(app, customer) })).body
  t.match(customerPage, /<p class="notice notice--locked" id="locked-notice">This thread is locked: only staff can post in it\./, 'a locked thread says so')
  t.match(customerPage, /Slow mode: 30 s/)
  t.notMatch(customerPage, new RegExp(`action="/t/${thread.id}/posts"`), 'and offers customers no comment form')
  t.match((await app.inject({ url: `/t/${thread.id}`, cookies: await signIn(app, tech) })).body, new RegExp(`action="/t/${thread.id}/posts"`), 'staff still post')

  const badSlowMode = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/settings`, { slowModeSeconds: '99999', title: 'Chiller plant down (building B)', titleWas: thread.title, locked: 'on' })
  t.equal(badSlowMode.statusCode, 400)
  const panel = sectionById(badSlowMode.body, 'settings')
  t.match(panel, /<details open>[\s\S]*<p class="form-error" role="alert">Slow mode must be 0 to 3600 seconds\.<\/p>/, 'the refusal is said in the settings, opened')
  t.match(panel, /id="thread-title"[^>]*value="Chiller plant down \(building B\)"/, 'with the title as typed')
  t.match(panel, /name="slowModeSeconds"[^>]*value="99999"/, 'and the slow mode')
  t.equal(badSlowMode.body.split('Slow mode must be 0 to 3600 seconds.').length, 2, 'said there alone, not at the top of the page too')
})

t.test("a moderator's settings sent from a page opened before another's change do not undo it", async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const first = await makeUser(app, 'moderator')
  const second = await makeUser(app, 'moderator')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Storage outage', body: 'Array offline.' })
  const cookies = await signIn(app, first)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  /** The form's fields as the page has them, as a browser sends them: hidden ones, ticked boxes, values. */
  const fieldsOf = (html: string, action: string) => {
    const form = new RegExp(`<form[^>]*action="/t/${thread.id}/${action}"[\\s\\S]*?</form>`).exec(html)![0]
    const fields: Record<string, string> = {}
    for (const [input] of form.matchAll(/<input[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input)?.[1]
      if (name === undefined || (/type="checkbox"/.test(input) && !/ checked/.test(input))) continue
      fields[name] = /value="([^"]*)"/.exec(input)?.[1] ?? ''
    }
    return fields
  }
  const settings = fieldsOf(page, 'settings')
  const crisis = fieldsOf(page, 'crisis')

  // Meanwhile, another moderator locks the thread and turns read-only crisis mode on.
  await apiAs(app, second, 'PATCH', `/threads/${thread.id}`, { locked: true, crisisMode: true, crisisReadOnly: true, title: 'Storage outage in DC-2' })
  // The first, on the page opened before, sets slow mode, then saves the crisis form unchanged.
  t.equal((await app.inject({ method: 'POST', url: `/t/${thread.id}/settings`, cookies, payload: { ...settings, slowModeSeconds: '60' } })).statusCode, 303)
  t.equal((await app.inject({ method: 'POST', url: `/t/${thread.id}/crisis`, cookies, payload: crisis })).statusCode, 303)
  const now = await apiAs<Thread>(app, tech, 'GET', `/threads/${thread.id}`)
  t.equal(now.slowModeSeconds, 60, 'the change made is taken')
  t.equal(now.locked, true, 'the lock made meanwhile stays')
  t.same([now.crisisMode, now.crisisReadOnly], [true, true], 'and so does the crisis mode')
  t.equal(now.title, 'Storage outage in DC-2', 'and the new title')

  // What the first moderator does change still goes through: unlocking, from a fresh page.
  const fresh = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(fresh, /name="lockedWas" value="on"/)
  const { locked: _ticked, ...unticked } = fieldsOf(fresh, 'settings')
  t.equal((await app.inject({ method: 'POST', url: `/t/${thread.id}/settings`, cookies, payload: unticked })).statusCode, 303)
  t.equal((await apiAs<Thread>(app, tech, 'GET', `/threads/${thread.id}`)).locked, false, 'unlocked')

  // A wrong title is put right from the page too.
  const renamed = await app.inject({ method: 'POST', url: `/t/${thread.id}/settings`, cookies, payload: { ...fieldsOf((await app.inject({ url: `/t/${thread.id}`, cookies })).body, 'settings'), title: 'Storage outage in DC-3' } })
  t.equal(renamed.statusCode, 303)
  t.match((await app.inject({ url: `/t/${thread.id}` })).body, /<h1[^>]*>Storage outage in DC-3<\/h1>/, 'the page shows the title put right')
  const blank = await app.inject({ method: 'POST', url: `/t/${thread.id}/settings`, cookies, payload: { ...fieldsOf((await app.inject({ url: `/t/${thread.id}`, cookies })).body, 'settings'), title: '   ' } })
  t.equal(blank.statusCode, 400, 'an empty title is refused')
  t.match(blank.body, /role="alert">The title must be 1 to 200 characters long/)
})

t.test('staff promise the next update for a time of the clock: today, or tomorrow once it has passed, but not one passed a moment ago', async (t) => {
  const { app } = await buildTestApp(t, { env: { TZ_DISPLAY: 'Europe/Paris' } })
  const tech = await makeUser(app, 'technician', { shift: 'night' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Power cut in DC-2', body: 'On generators.' })
  const cookies = await signIn(app, tech)
  const clock = (date: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date)
  const promised = async () => new Date((await apiAs<Thread>(app, tech, 'GET', `/threads/${thread.id}`)).nextUpdateAt!)
  const compose = sectionById((await app.inject({ url: `/t/${thread.id}?lang=en`, cookies })).body, 'compose')
  t.match(compose, /name="next" value="at"> by a set time:<\/label>\s*<input type="time" name="nextAt"/, 'the form offers it')

  const now = app.deps.now()
  const later = new Date(now.getTime() + 2 * 3600_000)
  // The form's default (30 min) left ticked: the time typed is the choice made.
  const sent = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'The vendor is on site at that time.', kind: 'update', next: '30', nextAt: clock(later) })
  t.equal(sent.statusCode, 303, sent.body)
  const first = await promised()
  t.equal(clock(first), clock(later), 'promised for the time typed, by the organisation\u2019s clock')
  t.ok(Math.abs(first.getTime() - later.getTime()) < 60_000, 'today')

  const earlier = new Date(now.getTime() - 3 * 3600_000)
  t.equal((await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Next one when the day shift is in.', kind: 'update', next: 'at', nextAt: clock(earlier) })).statusCode, 303)
  const second = await promised()
  t.equal(clock(second), clock(earlier))
  t.ok(second.getTime() > now.getTime() + 20 * 3600_000, 'a time passed hours ago: tomorrow')

  // The form begun at 16:55 and sent at 17:21 with "by 17:00": not a promise for tomorrow.
  // Counted by the clock, as the form's time is typed: "17:00" when it shows 17:21.
  const clockAgo = (minutes: number) => {
    const [hour, minute] = clock(now).split(':').map(Number) as [number, number]
    const at = (hour * 60 + minute - minutes + 24 * 60) % (24 * 60)
    return `${String(Math.floor(at / 60)).padStart(2, '0')}:${String(at % 60).padStart(2, '0')}`
  }
  for (const [ago, what] of [[20, 'twenty minutes ago'], [0, 'this very minute'], [110, 'under two hours ago']] as const) {
    const slipped = await submitForm(app, cookies, `/t/${thread.id}?lang=en`, `/t/${thread.id}/posts`, { body: 'Written a while ago.', kind: 'update', next: 'at', nextAt: clockAgo(ago) })
    t.equal(slipped.statusCode, 400, `a time passed ${what} is refused`)
    t.match(slipped.body, /That time has just passed: give a time still to come\./, 'saying why')
    t.match(slipped.body, /Written a while ago\./, 'the text kept')
    const compose = sectionById(slipped.body, 'compose')
    t.match(compose, /<input type="time" name="nextAt"[^>]*aria-invalid="true" aria-describedby="compose-error" autofocus>/, 'the time box marked, with the focus')
    t.notMatch(compose, /<textarea id="body"[^>]*aria-invalid/, 'not the message')
    t.equal((await promised()).getTime(), second.getTime(), 'the promise as it was')
  }

  // A page whose script showed the times in the device's zone says so: the time typed is by that clock.
  const newYork = (date: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date)
  t.equal((await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Vendor due at nine, New York time.', kind: 'update', next: 'at', nextAt: newYork(later), nextAtZone: 'America/New_York' })).statusCode, 303)
  const third = await promised()
  t.ok(Math.abs(third.getTime() - later.getTime()) < 60_000, 'promised for the time typed, by the clock of the zone the page showed')
  for (const nextAtZone of ['Mars/Olympus_Mons', 'x'.repeat(100)]) {
    t.equal((await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'A zone that is none.', kind: 'update', next: 'at', nextAt: clock(later), nextAtZone })).statusCode, 303)
    t.ok(Math.abs((await promised()).getTime() - later.getTime()) < 60_000, `a zone that is none (${nextAtZone.slice(0, 20)}): the organisation's clock`)
  }

  for (const nextAt of ['', '25:00', 'soon']) {
    const refused = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Kept text.', kind: 'update', next: 'at', nextAt })
    t.equal(refused.statusCode, 400, `"${nextAt}" is refused`)
    t.match(refused.body, /Give the time of the next update, e\.g\. 14:15\./)
    t.match(refused.body, /Kept text\./, 'the text kept')
    t.match(refused.body, /name="next" value="at" checked>/, 'and the choice')
  }
  const french = await submitForm(app, cookies, `/t/${thread.id}?lang=fr`, `/t/${thread.id}/posts`, { body: 'Texte.', kind: 'update', next: 'at', nextAt: '' })
  t.match(french.body, /Indiquez l’heure du prochain point, par exemple 14:15\./)
  const passed = await submitForm(app, cookies, `/t/${thread.id}?lang=fr`, `/t/${thread.id}/posts`, { body: 'Texte.', kind: 'update', next: 'at', nextAt: clock(now) })
  t.match(passed.body, /Cette heure vient de passer\u00a0: indiquez une heure encore à venir\./)
})

t.test('authors edit their posts; others cannot', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const author = await makeUser(app, 'customer')
  const other = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Website slow', body: 'CDN issue.' })
  const post = await apiAs<Post>(app, author, 'POST', `/threads/${thread.id}/posts`, { body: 'Slow in Lyon' })

  const otherCookies = await signIn(app, other)
  t.notMatch(sectionById((await app.inject({ url: `/t/${thread.id}`, cookies: otherCookies })).body, `p-${post.id}`), /\/edit"/, 'no edit link for others')
  t.equal((await app.inject({ url: `/posts/${post.id}/edit`, cookies: otherCookies })).statusCode, 403)

  const cookies = await signIn(app, author)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}`, cookies })).body, `p-${post.id}`), new RegExp(`href="/posts/${post.id}/edit"`))
  const form = await app.inject({ url: `/posts/${post.id}/edit`, cookies })
  t.match(form.body, />Slow in Lyon<\/textarea>/)
  const saved = await submitForm(app, cookies, `/posts/${post.id}/edit`, `/posts/${post.id}/edit`, { body: 'Slow in Lyon and Paris' })
  t.equal(saved.statusCode, 303)
  t.equal(saved.headers.location, `/t/${thread.id}#p-${post.id}`)
  const shown = sectionById((await app.inject({ url: `/t/${thread.id}` })).body, `p-${post.id}`)
  t.match(shown, /Slow in Lyon and Paris/)
  t.match(shown, /class="post__edited">edited</)
})

t.test('a technician\'s Reply writes a comment that promises nothing, unless they choose otherwise', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Generator test', body: 'Testing.' })
  const question = await apiAs<Post>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Is the generator safe?' })
  const cookies = await signIn(app, tech)
  const compose = async (url: string) => sectionById((await app.inject({ url, cookies })).body, 'compose')

  const plain = await compose(`/t/${thread.id}`)
  t.match(plain, /<option value="update" selected>Official update<\/option>/, 'the form writes an official update')
  t.match(plain, /value="30" checked/, 'promising the next in 30 min')
  t.notMatch(plain, /autofocus/, 'and takes no focus from the page')

  const reply = await compose(`/t/${thread.id}?replyTo=${question.id}`)
  t.match(reply, /<option value="comment" selected>Comment<\/option>/, 'a reply is a comment')
  t.match(reply, /<input type="radio" name="next" value="none" checked>/, 'which promises nothing')
  t.notMatch(reply, /value="30" checked/)
  t.match(reply, /<textarea id="body"[^>]* autofocus>/, 'the message field has the focus')

  const answered = await submitForm(app, cookies, `/t/${thread.id}?replyTo=${question.id}`, `/t/${thread.id}/posts`, { body: 'Yes, it is.', replyTo: String(question.id), kind: 'comment', next: 'none' })
  t.equal(answered.statusCode, 303)
  const after = (await apiAs<Thread>(app, tech, 'GET', `/threads/${thread.id}`))
  t.equal(after.nextUpdateAt, null, 'the thread\'s promise is untouched')

  // On a resolved incident, the form offers no promise as a given: a post-mortem promises nothing.
  await apiAs(app, tech, 'PATCH', `/threads/${thread.id}`, { status: 'resolved' })
  const resolved = await compose(`/t/${thread.id}`)
  t.match(resolved, /<input type="radio" name="next" value="none" checked>/, 'a resolved incident\'s form promises nothing unless asked')
  t.notMatch(resolved, /value="30" checked/)
  const handover = sectionById((await app.inject({ url: `/t/${thread.id}/handover`, cookies })).body, 'handover')
  t.match(handover, /<input type="radio" name="next" value="none" checked>/, 'nor does its handover form')
})

t.test('two people editing one post: the second save does not wipe the first\'s change', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const moderator = await makeUser(app, 'moderator')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Room 3 power', body: 'Checking feeds.' })
  const post = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Room 3 power feed A restored.' })
  const techCookies = await signIn(app, tech)
  const modCookies = await signIn(app, moderator)
  // Both open the form before either saves.
  const open = async (cookies: Awaited<ReturnType<typeof signIn>>) => {
    const page = (await app.inject({ url: `/posts/${post.id}/edit`, cookies })).body
    return { _csrf: csrfFieldOf(page), editedAt: /name="editedAt" value="([^"]*)"/.exec(page)![1]! }
  }
  const techForm = await open(techCookies)
  const modForm = await open(modCookies)
  t.equal(techForm.editedAt, '', 'a post never edited')

  const first = await app.inject({ method: 'POST', url: `/posts/${post.id}/edit`, cookies: techCookies, payload: { ...techForm, body: 'Room 3 power feed A restored. Feed B at 80%.' } })
  t.equal(first.statusCode, 303, 'the first save goes through')
  const second = await app.inject({ method: 'POST', url: `/posts/${post.id}/edit`, cookies: modCookies, payload: { ...modForm, body: 'Room 3 power feed A restored (typo fixed).' } })
  t.equal(second.statusCode, 409, 'the second is refused')
  t.match(second.body, /role="alert" id="edit-error">Someone changed this post while you were editing it\./)
  t.match(sectionById(second.body, 'edit-current-title'), /The post as it is now/)
  t.match(second.body, /Feed B at 80%\./, 'showing the post as it is now')
  t.match(second.body, />Room 3 power feed A restored \(typo fixed\)\.<\/textarea>/, 'with the second editor\'s text kept in the form')
  t.match((await apiAs<Post>(app, tech, 'GET', `/posts/${post.id}`)).body, /Feed B at 80%\./, 'the first change stands')

  // Having read it, they save again from the form as it came back.
  const again = await app.inject({ method: 'POST', url: `/posts/${post.id}/edit`, cookies: modCookies, payload: { _csrf: csrfFieldOf(second.body), editedAt: /name="editedAt" value="([^"]*)"/.exec(second.body)![1]!, body: 'Room 3 power feed A restored. Feed B at 80% (typo fixed).' } })
  t.equal(again.statusCode, 303, 'then their save goes through')
  t.equal((await apiAs<Post>(app, tech, 'GET', `/posts/${post.id}`)).body, 'Room 3 power feed A restored. Feed B at 80% (typo fixed).')
  const french = await app.inject({ method: 'POST', url: `/posts/${post.id}/edit?lang=fr`, cookies: techCookies, payload: { ...techForm, body: 'Encore une autre version.' } })
  t.match(french.body, /Quelqu’un a modifié ce message pendant que vous le modifiiez\./, 'in French too')
})

t.test('a form refused after its writer\'s session ended says so, and gives back what was written', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Room 3 cooling', body: 'Checking.' })
  const cookies = await signIn(app, tech)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  // The session ends on the server meanwhile (it ran out, or an admin ended it).
  await app.db.deleteFrom('sessions').where('user_id', '=', tech.actor.id).execute()
  const refused = await app.inject({
    method: 'POST', url: `/t/${thread.id}/posts`, cookies,
    headers: { referer: `http://localhost:80/t/${thread.id}?view=official`, host: 'localhost:80' },
    payload: { _csrf: csrfFieldOf(page), body: 'Chiller 2 restarted <at> 14:05 & holding.', kind: 'update', next: '30' }
  })
  t.equal(refused.statusCode, 403)
  t.match(refused.body, /Your session ended while this page was open\. Sign in again, then send the form again\./, 'it says why, not that the form expired')
  t.ok(refused.body.includes(`href="/login?next=${encodeURIComponent(`/t/${thread.id}?view=official`)}">Sign in again<`), 'with a way to sign in, back to the page')
  t.match(sectionById(refused.body, 'written-title'), /What you wrote/)
  t.match(refused.body, /<textarea id="written-0" rows="6" readonly>Chiller 2 restarted &lt;at&gt; 14:05 &amp; holding\.<\/textarea>/, 'and the text, to copy')
  t.equal((await apiAs<{ posts: Post[] }>(app, tech, 'GET', `/threads/${thread.id}/posts`)).posts.length, 1, 'nothing was posted')

  // Signed out in another tab (or at the session's end): the browser sends no session cookie at all.
  const otherTab = await signIn(app, tech)
  const otherPage = (await app.inject({ url: `/t/${thread.id}`, cookies: otherTab })).body
  const signedOut = await app.inject({ method: 'POST', url: `/logout`, cookies: otherTab, payload: { _csrf: csrfFieldOf(otherPage) } })
  t.equal(signedOut.statusCode, 303, 'signed out in one tab')
  const withoutSession = { sitrep_csrf: otherTab.sitrep_csrf! }
  const dropped = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies: withoutSession, payload: { _csrf: csrfFieldOf(otherPage), body: 'Chiller 3 next.', kind: 'update' } })
  t.equal(dropped.statusCode, 403)
  t.match(dropped.body, /Your session ended while this page was open\. Sign in again/, 'a form sent from the other, its cookie gone, says the session ended too')
  t.match(dropped.body, /readonly>Chiller 3 next\.<\/textarea>/, 'and gives back its text')
  // A sign-in form is a signed-out reader's own: one refused is a form that expired.
  const login = await app.inject({ method: 'POST', url: '/login', cookies: withoutSession, payload: { _csrf: 'stale', email: 'someone@example.org', password: 'whatever it is' } })
  t.equal(login.statusCode, 403)
  t.notMatch(login.body, /Your session ended/, 'a stale sign-in form is not said to be a session that ended')

  // A customer writing while a moderator locks the thread.
  const customerCookies = await signIn(app, customer)
  const customerPage = (await app.inject({ url: `/t/${thread.id}?lang=fr`, cookies: customerCookies })).body
  await apiAs(app, await makeUser(app, 'moderator'), 'PATCH', `/threads/${thread.id}`, { locked: true })
  const locked = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies: customerCookies, payload: { _csrf: csrfFieldOf(customerPage), body: 'Is my server safe?' } })
  t.equal(locked.statusCode, 403)
  const compose = sectionById(locked.body, 'compose')
  t.match(compose, /Ce que vous avez écrit/, 'a comment refused in a locked thread is given back too, in the reader\'s language')
  t.match(compose, /readonly[^>]*autofocus>Is my server safe\?<\/textarea>/, 'it takes the focus, so the page opens on it, not above the posts')
  t.match(compose, /<p class="notice" role="alert">/, 'and why it was refused is said')
  const lockedPage = sectionById((await app.inject({ url: `/t/${thread.id}`, cookies: customerCookies })).body, 'compose')
  t.match(lockedPage, /<p class="notice">/)
  t.notMatch(lockedPage, /role="alert"|autofocus/, 'a locked page only loaded raises no alert and takes no focus')
})

t.test('each post shows its number, which the answer form and replies refer to', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Badge readers down', body: 'Investigating.' })
  const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Readers rebooted.' })
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, `p-${update.id}`), new RegExp(`class="post__number">#${update.id}<`))
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })).body, `p-${update.id}`), new RegExp(`class="post__number">n°\u00a0${update.id}<`), 'in French, "n°"')
  const reply = sectionById((await app.inject({ url: `/t/${thread.id}?replyTo=${update.id}&lang=fr`, cookies: await signIn(app, tech) })).body, 'compose')
  t.match(reply, new RegExp(`En réponse au message <a href="/posts/${update.id}">n°\u00a0${update.id}</a>`), 'a reply names it the same way')
})

t.test('a comment as long as allowed goes through the form whatever its script: Cyrillic, Chinese, emoji', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Dorm network', body: 'Down in block C.' })
  const cookies = await signIn(app, customer)
  const csrf = csrfFieldOf((await app.inject({ url: `/t/${thread.id}`, cookies })).body)
  // As a browser sends it: URL-encoded, each byte of UTF-8 as %XX. The text
  // box counts characters in UTF-16, as the post's check does: an emoji is two.
  for (const [script, unit] of [['Cyrillic', 'Связь'], ['Chinese', '网络中断了'], ['emoji', '🔥🧯']] as const) {
    const text = unit.repeat(BODY_MAX).slice(0, BODY_MAX)
    const sent = await app.inject({
      method: 'POST',
      url: `/t/${thread.id}/posts`,
      cookies,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrf, idempotencyKey: `long-${script}`, body: text }).toString()
    })
    t.equal(sent.statusCode, 303, `${BODY_MAX.toLocaleString('en')} characters of ${script} are taken`)
  }
  const posts = (await apiAs<{ posts: Post[] }>(app, tech, 'GET', `/threads/${thread.id}/posts`)).posts
  t.equal(posts.filter((post) => post.kind === 'comment').length, 3, 'all three are there')
})
