import t from 'tap'
import { CRISIS_SLOW_MODE_SECONDS, POSTING_LIMITS } from '../../src/domain/limits.ts'
import type { ThreadEvent } from '../../src/live/events.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, eventLog, openThread, writePost } from '../helpers/api.ts'
import { signIn, submitForm } from '../helpers/pages.ts'

const published: ThreadEvent[] = []
const { app, advance } = await buildTestApp(t, { postingLimits: POSTING_LIMITS, onEvents: (events) => published.push(...events) })
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')

const comment = (user: { auth: Record<string, string> }, threadId: number, body = 'A question') =>
  app.inject({ method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: user.auth, payload: { body } })

t.test('a customer posts at most 5 comments a minute across all threads; staff are exempt', async (t) => {
  const customer = await makeUser(app, 'customer')
  const threads = [await openThread(app, tech), await openThread(app, tech)]
  for (let i = 0; i < 5; i++) assertStatus(t, await comment(customer, threads[i % 2]!.id, `Question ${i}`), 201)
  const refused = await comment(customer, threads[0]!.id)
  assertError(t, refused, 429, 'posting_limit_minute')
  const wait = Number(refused.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 60, `Retry-After says when (${wait} s)`)
  t.match(refused.json().error.message, /at most 5 comments/)

  const fr = await app.inject({ method: 'POST', url: `/api/v1/threads/${threads[0]!.id}/posts`, headers: { ...customer.auth, 'accept-language': 'fr' }, payload: { body: 'Encore' } })
  t.match(fr.json().error.message, /5 commentaires ou modifications par minute/, 'the message is translated')

  for (let i = 0; i < 8; i++) assertStatus(t, await comment(moderator, threads[0]!.id, `Staff ${i}`), 201, 'staff are exempt')
  advance(61_000)
  assertStatus(t, await comment(customer, threads[1]!.id), 201, 'allowed again a minute later')
})

t.test('a customer\'s edits count with their comments: each is pushed to every reader too', async (t) => {
  const customer = await makeUser(app, 'customer')
  const thread = await openThread(app, tech)
  const mine = (await comment(customer, thread.id, 'First take')).json()
  const edit = (user: { auth: Record<string, string> }, body: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'PATCH', url: `/api/v1/posts/${mine.id}`, headers: { ...user.auth, ...headers }, payload: { body } })
  for (let i = 0; i < 4; i++) assertStatus(t, await edit(customer, `Take ${i}`), 200)
  const before = (await eventLog(app, thread.id)).length
  const refused = await edit(customer, 'Take again')
  assertError(t, refused, 429, 'posting_limit_minute')
  t.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After says when')
  t.match((await edit(customer, 'Encore', { 'accept-language': 'fr' })).json().error.message, /5 commentaires ou modifications par minute/, 'in French too')
  t.equal((await eventLog(app, thread.id)).length, before, 'nothing is pushed to readers')
  t.equal((await app.inject({ url: `/api/v1/posts/${mine.id}` })).json().body, 'Take 3', 'the post keeps its text')
  assertError(t, await comment(customer, thread.id), 429, 'posting_limit_minute')
  const { editedAt } = (await app.inject({ url: `/api/v1/posts/${mine.id}` })).json()
  const byForm = await submitForm(app, await signIn(app, customer), `/posts/${mine.id}/edit`, `/posts/${mine.id}/edit`, { body: 'Take by the form', editedAt })
  t.equal(byForm.statusCode, 429, 'the edit form is held back too')
  t.ok(Number(byForm.headers['retry-after']) >= 1, 'saying when to try again')
  t.match(byForm.body, /at most 5 comments or edits a minute/, 'and why, above the text kept in the form')
  t.match(byForm.body, /aria-describedby="edit-error body-hint" aria-invalid="true" autofocus>Take by the form<\/textarea>/, 'the text kept, to send again later, with the focus')
  assertStatus(t, await edit(customer, 'Take 3'), 200, 'the same text again changes nothing, and is not refused')
  assertStatus(t, await edit(moderator, 'Moderated take'), 200, 'a moderator\'s edit is not held back')
  advance(61_000)
  assertStatus(t, await edit(customer, 'Take at last'), 200, 'allowed again a minute later')
})

t.test('and at most 30 an hour', async (t) => {
  const customer = await makeUser(app, 'customer')
  const thread = await openThread(app, tech)
  for (let i = 0; i < 30; i++) {
    assertStatus(t, await comment(customer, thread.id, `Q${i}`), 201)
    if (i % 5 === 4) advance(61_000)
  }
  const refused = await comment(customer, thread.id)
  assertError(t, refused, 429, 'posting_limit_hour')
  t.ok(Number(refused.headers['retry-after']) > 60, 'Retry-After counts to the oldest post of the hour')
  advance(60 * 60 * 1000)
  assertStatus(t, await comment(customer, thread.id), 201, 'allowed again an hour later')
})

t.test('crisis mode slows customers to one comment a minute, not staff', async (t) => {
  const customer = await makeUser(app, 'customer')
  const thread = await openThread(app, tech)
  const before = (await eventLog(app, thread.id)).length
  published.length = 0
  const patched = (await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: true })).json()
  t.equal(patched.crisisMode, true)
  t.equal(patched.crisisReadOnly, false)
  const log = await eventLog(app, thread.id, before)
  t.same(log.map((e) => e.type), ['thread.updated'], 'the switch is on the thread\'s log')
  t.equal(log[0]!.payload.thread.crisisMode, true)
  t.ok(published.some((e) => e.type === 'thread.updated' && e.threadId === thread.id), 'and pushed live')

  assertStatus(t, await comment(customer, thread.id), 201)
  const refused = await comment(customer, thread.id)
  assertError(t, refused, 429, 'slow_mode')
  t.ok(Number(refused.headers['retry-after']) <= CRISIS_SLOW_MODE_SECONDS && Number(refused.headers['retry-after']) > 50)
  assertStatus(t, await comment(tech, thread.id), 201, 'a technician is not slowed')
  assertStatus(t, await comment(tech, thread.id), 201)
  advance(CRISIS_SLOW_MODE_SECONDS * 1000)
  assertStatus(t, await comment(customer, thread.id), 201, 'allowed again after the slow mode')

  const page = await app.inject({ url: `/t/${thread.id}` })
  t.match(page.body, /id="crisis-banner" role="status">\s*<strong>Crisis mode/, 'the page shows the banner')
  t.match((await app.inject({ url: `/t/${thread.id}?lang=fr` })).body, /Mode crise/, 'in French too')

  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: false })
  t.match((await app.inject({ url: `/t/${thread.id}` })).body, /id="crisis-banner" role="status" hidden>/, 'the banner goes with it')
})

t.test('crisis mode read-only refuses customers, not staff', async (t) => {
  const customer = await makeUser(app, 'customer')
  const thread = await openThread(app, tech)
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: true, crisisReadOnly: true })
  const refused = await comment(customer, thread.id)
  assertError(t, refused, 403, 'crisis_read_only')
  t.match(refused.json().error.message, /crisis mode/)
  assertStatus(t, await comment(tech, thread.id), 201, 'a technician still posts')
  assertStatus(t, await comment(moderator, thread.id), 201, 'a moderator still posts')

  const cookies = await signIn(app, customer)
  const page = await app.inject({ url: `/t/${thread.id}`, cookies })
  t.notMatch(page.body, /action="\/t\/\d+\/posts"/, 'no comment form for customers')
  t.match(page.body, /comments are closed for now/, 'a notice instead')

  const off = (await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: false })).json()
  t.same([off.crisisMode, off.crisisReadOnly], [false, false], 'read-only ends with crisis mode')
  assertStatus(t, await comment(customer, thread.id), 201)
  const alone = await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { crisisReadOnly: true } })
  assertError(t, alone, 400, 'read_only_without_crisis')
  t.match(alone.json().error.message, /part of crisis mode/, 'read-only alone is refused, not kept to do nothing')
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().crisisReadOnly, false)
})

t.test('crisis mode is for moderators and audited with before and after', async (t) => {
  const thread = await openThread(app, tech)
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: tech.auth, payload: { crisisMode: true } }), 403, 'moderator_only')
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: true, crisisReadOnly: true })
  const row = await app.db.selectFrom('audit_log').selectAll().where('thread_id', '=', thread.id).orderBy('id', 'desc').executeTakeFirstOrThrow()
  t.equal(row.actor_id, moderator.actor.id)
  t.same(row.before, { crisisMode: false, crisisReadOnly: false })
  t.same(row.after, { crisisMode: true, crisisReadOnly: true })
})

t.test('the page form turns crisis mode on', async (t) => {
  const thread = await openThread(app, tech)
  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: `/t/${thread.id}`, cookies })
  const csrf = /action="\/t\/\d+\/crisis"[\s\S]*?name="_csrf" value="([^"]+)"/.exec(page.body)?.[1]
  t.ok(csrf, 'the moderator tools hold the crisis form')
  const res = await app.inject({ method: 'POST', url: `/t/${thread.id}/crisis`, cookies, payload: { _csrf: csrf!, crisisMode: 'on', crisisReadOnly: 'on' } })
  t.equal(res.statusCode, 303)
  const after = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json()
  t.same([after.crisisMode, after.crisisReadOnly], [true, true])
})

t.test('the page form refuses read-only ticked without crisis mode, and says why', async (t) => {
  const thread = await openThread(app, tech)
  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: `/t/${thread.id}?lang=en`, cookies })
  const csrf = /action="\/t\/\d+\/crisis"[\s\S]*?name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  const send = (fields: Record<string, string>) => app.inject({ method: 'POST', url: `/t/${thread.id}/crisis`, cookies, payload: { _csrf: csrf, crisisModeWas: 'off', crisisReadOnlyWas: 'off', ...fields } })
  const refused = await send({ crisisReadOnly: 'on' })
  t.equal(refused.statusCode, 400)
  t.match(refused.body, /role="alert">Read-only is part of crisis mode: turn crisis mode on with it\./)
  const after = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json()
  t.same([after.crisisMode, after.crisisReadOnly], [false, false], 'nothing changed')

  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: true, crisisReadOnly: true })
  // Crisis mode turned off with its read-only box still ticked: both go.
  t.equal((await send({ crisisModeWas: 'on', crisisReadOnlyWas: 'on', crisisReadOnly: 'on' })).statusCode, 303)
  const ended = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json()
  t.same([ended.crisisMode, ended.crisisReadOnly], [false, false])
})

t.test('the comment form answers 429 with Retry-After and a readable message', async (t) => {
  const customer = await makeUser(app, 'customer')
  const thread = await openThread(app, tech)
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: true })
  await writePost(app, customer, thread.id, { body: 'First' })
  const cookies = await signIn(app, customer)
  const page = await app.inject({ url: `/t/${thread.id}?lang=fr`, cookies })
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  const res = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts?lang=fr`, cookies, payload: { _csrf: csrf, body: 'Second' } })
  t.equal(res.statusCode, 429)
  t.ok(Number(res.headers['retry-after']) > 0)
  t.match(res.body, /role="alert"/)
})
