import t from 'tap'
import type { Post } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError, openThread, writePost } from '../helpers/api.ts'
import { listen, openLive } from '../helpers/live.ts'
import { sectionById, signIn, submitForm } from '../helpers/pages.ts'

// 21:50 UTC is 22:50 in Paris: the evening shift, the night one starts at 23:00.
let clock = Date.parse('2026-01-15T21:50:00Z')
const { app } = await buildTestApp(t, { now: () => new Date(clock), env: { TZ_DISPLAY: 'Europe/Paris' } })
const evening = await makeUser(app, 'technician', { name: 'Eve Evening', shift: 'evening' })
const night = await makeUser(app, 'technician', { name: 'Nico Night', shift: 'night' })
const moderator = await makeUser(app, 'moderator')
const customer = await makeUser(app, 'customer')
const thread = await openThread(app, evening, { title: 'Core router down' })

t.test('a handover carries the outgoing and the incoming shift', async (t) => {
  const post = await writePost(app, evening, thread.id, { body: 'All yours.', kind: 'handover' })
  t.equal(post.kind, 'handover')
  t.equal(post.shift, 'evening', "the author's shift goes out")
  t.equal(post.handoverTo, 'night', 'the next one in the schedule comes in')
  t.equal((await writePost(app, evening, thread.id, { body: 'An update' })).handoverTo, null, 'an update hands nothing over')
  const byModerator = await writePost(app, moderator, thread.id, { body: 'Handing over', kind: 'handover' })
  t.same([byModerator.shift, byModerator.handoverTo], ['evening', 'night'], "a moderator's by the shift on duty")
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: customer.auth, payload: { body: 'x', kind: 'handover' } }), 403, 'staff_only')
})

t.test('the handover call composes the three notes under headings in the poster\'s language', async (t) => {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/threads/${thread.id}/handover`,
    headers: { ...night.auth, 'accept-language': 'fr' },
    payload: { done: 'Carte de ligne remplacée.', pending: 'Tests de charge.', next: 'Rouvrir le trafic.' }
  })
  t.equal(res.statusCode, 201, res.body)
  const post = res.json() as Post
  t.equal(post.body, '### Fait\n\nCarte de ligne remplacée.\n\n### En cours\n\nTests de charge.\n\n### Prochaines étapes\n\nRouvrir le trafic.')
  t.same([post.shift, post.handoverTo], ['night', 'day'])
  const english = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, headers: evening.auth, payload: { pending: 'Power supply.' } })
  t.equal(english.json().body, '### Pending\n\nPower supply.', 'empty notes are left out')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, headers: evening.auth, payload: { done: ' ' } }), 400, 'empty_handover')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, headers: customer.auth, payload: { done: 'x' } }), 403, 'staff_only')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, payload: { done: 'x' } }), 401, 'unauthorized')
})

t.test('the handover form posts it, and the page marks the shift boundary', async (t) => {
  const customerCookies = await signIn(app, customer)
  t.equal((await app.inject({ url: `/t/${thread.id}/handover`, cookies: customerCookies })).statusCode, 403, 'no form for customers')

  // The night lead checks in before the handover.
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: night.auth, payload: { lead: true } })).statusCode, 200)
  clock = Date.parse('2026-01-15T22:00:00Z')
  const cookies = await signIn(app, evening)
  const form = await app.inject({ url: `/t/${thread.id}/handover`, cookies })
  t.equal(form.statusCode, 200)
  t.match(form.body, /closes your shift \(Evening shift\) and opens the next one \(Night shift\)/)
  for (const name of ['done', 'pending', 'nextSteps']) t.match(form.body, new RegExp(`name="${name}"`), `a ${name} field`)

  const empty = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, { done: '', pending: '', nextSteps: '', next: '30' })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /<p class="form-error" id="handover-error" role="alert">Say at least what was done/)
  t.match(empty.body, /<textarea id="done" name="done"[^>]*aria-invalid="true" aria-describedby="handover-error" autofocus>/, 'the first box is marked and takes the focus')
  const noTime = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, { done: 'Rebooted the core.', pending: '', nextSteps: '', next: 'at', nextAt: '' })
  t.equal(noTime.statusCode, 400)
  t.match(noTime.body, /<input type="time" name="nextAt"[^>]*aria-invalid="true" aria-describedby="handover-error" autofocus>/, 'a promise without its time: the time box')
  t.notMatch(noTime.body, /<textarea id="done"[^>]*aria-invalid/, 'not the text, which is kept')
  t.match(noTime.body, />Rebooted the core\.<\/textarea>/)

  const sent = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, {
    done: 'Rebooted the core.', pending: 'Fibre repair.', nextSteps: 'Call the carrier at 06:00.', next: '60'
  })
  t.equal(sent.statusCode, 303, sent.body)
  const id = /#p-(\d+)$/.exec(String(sent.headers.location))![1]
  const page = (await app.inject({ url: `/t/${thread.id}` })).body
  const post = sectionById(page, `p-${id}`)
  t.match(post, /<h3>Done<\/h3>\s*<p>Rebooted the core\.<\/p>/)
  t.match(post, /<p class="shift-boundary[^"]*">The night shift, led by <bdi>Nico Night<\/bdi>, took over at <time[^>]*>23:00<\/time><\/p>/, 'the boundary names the incoming lead')
  t.match(post, /Next update by/, 'the handover promised the next update')
  const french = sectionById((await app.inject({ url: `/t/${thread.id}?lang=fr` })).body, `p-${id}`)
  t.match(french, /L’équipe de nuit, dirigée par <bdi>Nico Night<\/bdi>, a pris le relais à <time[^>]*>23:00<\/time>/)

  const toDay = (await app.inject({ url: `/api/v1/threads/${thread.id}/posts?kind=update` })).json().posts.find((p: Post) => p.handoverTo === 'day')
  t.match(sectionById(page, `p-${toDay.id}`), /<p class="shift-boundary[^"]*">The day shift took over at <time[^>]*>22:50<\/time><\/p>/, 'without a lead of the incoming shift, without a name')
})

t.test('a handover arriving live names the incoming lead already on duty, as the page does', async (t) => {
  // The night lead checked in in the test above; this clock is still in the evening shift.
  const host = await listen(app)
  const { last_seq: since } = await app.db.selectFrom('threads').select('last_seq').where('id', '=', thread.id).executeTakeFirstOrThrow()
  const page = openLive(host, thread.id, { since, lang: 'en' })
  const plain = openLive(host, thread.id, { since })
  const handover = await writePost(app, evening, thread.id, { body: 'Over to the night.', kind: 'handover' })
  await Promise.all([page.waitForCount(1), plain.waitForCount(1)])
  const view = (page.events[0] as unknown as { view: string }).view
  t.match(view, /<p class="shift-boundary[^"]*">The night shift, led by <bdi>Nico Night<\/bdi>, took over at <time[^>]*>23:00<\/time><\/p>/, 'the live view names the lead')
  t.equal(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, `p-${handover.id}`).match(/led by <bdi>Nico Night<\/bdi>/)?.length, 1, 'as the page does on load')
  t.same(Object.keys(plain.events[0]!).sort(), ['post', 'seq', 'threadId', 'type'], 'API clients get the contract\'s fields alone')
  page.ws.close()
  plain.ws.close()
})

t.test('a handover names its incoming lead as it was then: a lead taken later changes no earlier handover', async (t) => {
  // Nico Night, checked in above, leads the night.
  const handover = await writePost(app, evening, thread.id, { body: 'Night, over to you.', kind: 'handover' })
  const boundary = async () => sectionById((await app.inject({ url: `/t/${thread.id}` })).body, `p-${handover.id}`)
  t.match(await boundary(), /led by <bdi>Nico Night<\/bdi>/)
  // Hours later, another night technician takes the lead.
  const before = clock
  clock += 3 * 3600_000
  const nadia = await makeUser(app, 'technician', { name: 'Nadia Night', shift: 'night' })
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: nadia.auth, payload: { lead: true } })).json().lead.name, 'Nadia Night')
  t.match(await boundary(), /led by <bdi>Nico Night<\/bdi>/, 'the handover still names who led then')
  const logbook = sectionById((await app.inject({ url: `/t/${thread.id}/timeline` })).body, `p-${handover.id}`)
  t.match(logbook, /<p class="shift-boundary[^"]*">The night shift, led by <bdi>Nico Night<\/bdi>, took over at <time[^>]*>23:00<\/time><\/p>/, 'and so does the logbook')
  await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: nadia.auth })
  clock = before
})

t.test('the handover form checks its author out once the handover is posted, never before', async (t) => {
  const cookies = await signIn(app, evening)
  const onDuty = async () => (await app.inject({ url: '/api/v1/duty' })).json().onDuty.some((p: { name: string }) => p.name === 'Eve Evening')
  t.notMatch((await app.inject({ url: `/t/${thread.id}/handover`, cookies })).body, /name="checkOut"/, 'off duty, nothing to check out of')

  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: evening.auth, payload: {} })).statusCode, 200)
  const form = (await app.inject({ url: `/t/${thread.id}/handover?checkOut=1`, cookies })).body
  t.match(form, /<input type="checkbox" name="checkOut" value="on" checked> Check out once the handover is posted/, 'come to hand over and check out: offered and ticked')
  // A lead handing over on each of several incidents stays on duty until they choose to leave.
  t.match((await app.inject({ url: `/t/${thread.id}/handover`, cookies })).body, /<input type="checkbox" name="checkOut" value="on"> Check out once the handover is posted/, 'come to hand over alone: offered, not ticked')
  t.match((await app.inject({ url: `/t/${thread.id}/handover?lang=fr`, cookies })).body, /Terminer mon service une fois la passation publiée/)
  await app.inject({ url: `/t/${thread.id}/handover?lang=en`, cookies })

  const refused = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, { done: '', pending: '', nextSteps: '', next: '30', checkOut: 'on' })
  t.equal(refused.statusCode, 400)
  t.ok(await onDuty(), 'a refused handover leaves its author on duty')
  t.match(refused.body, /name="checkOut" value="on" checked>/, 'the choice is kept')
  const unticked = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, { done: '', pending: '', nextSteps: '', next: '30' })
  t.match(unticked.body, /name="checkOut" value="on">/, 'unticked too')

  const kept = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, { done: 'Half the racks up.', next: '30' })
  t.equal(kept.statusCode, 303, kept.body)
  t.ok(await onDuty(), 'unticked, its author stays on duty')

  const sent = await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, { done: 'All racks up.', next: '30', checkOut: 'on' })
  t.equal(sent.statusCode, 303, sent.body)
  t.notOk(await onDuty(), 'ticked, the handover is posted and its author checked out')
  const posts = (await app.inject({ url: `/api/v1/threads/${thread.id}/posts?kind=update` })).json().posts as Post[]
  t.match(posts.at(-1)!.body, /All racks up\./, 'the handover is in the thread')

  // The same handover sent again (a double click, a retry) after its author checked in again.
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: evening.auth, payload: {} })).statusCode, 200)
  const again = { done: 'Back on it.', next: '30', checkOut: 'on', idempotencyKey: 'handover-once' }
  t.equal((await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, again)).statusCode, 303)
  t.notOk(await onDuty())
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: evening.auth, payload: {} })).statusCode, 200)
  t.equal((await submitForm(app, cookies, `/t/${thread.id}/handover`, `/t/${thread.id}/handover`, again)).statusCode, 303)
  t.ok(await onDuty(), 'the retry posts nothing more, and ends no shift begun since')

  const api = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, headers: evening.auth, payload: { done: 'Scripted handover.', checkOut: true } })
  t.equal(api.statusCode, 201)
  t.notOk(await onDuty(), 'the API checks out with its handover too')
})
