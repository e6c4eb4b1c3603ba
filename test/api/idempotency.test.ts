import { createHash } from 'node:crypto'
import t from 'tap'
import { hashRequest } from '../../src/domain/idempotency.ts'
import { PASSWORD, buildSecondInstance, buildTestApp, makeUser, type TestUser } from '../helpers/app.ts'
import { assertError, assertStatus, act, inFuture, openThread, readPosts, writePost } from '../helpers/api.ts'

const testApp = await buildTestApp(t)
const { app, advance } = testApp
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const alice = await makeUser(app, 'customer')
const bob = await makeUser(app, 'customer')

const post = (user: TestUser, threadId: number, key: string, payload: Record<string, unknown>) => app.inject({
  method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: { ...user.auth, 'idempotency-key': key }, payload
})

t.test('a retry with the same key and body gets the first answer and posts once', async (t) => {
  const thread = await openThread(app, tech)
  const first = await post(alice, thread.id, 'retry-1', { body: 'Is the library open?' })
  assertStatus(t, first, 201)
  const again = await post(alice, thread.id, 'retry-1', { body: 'Is the library open?' })
  assertStatus(t, again, 201)
  t.same(again.json(), first.json(), 'the same answer')
  const comments = (await readPosts(app, thread.id)).filter((p) => p.kind === 'comment')
  t.same(comments.map((p) => p.body), ['Is the library open?'], 'one post only')
  t.equal(comments[0]?.id, first.json().id)
})

t.test('a retry sent after its promised next update has passed still gets the first answer', async (t) => {
  const thread = await openThread(app, tech)
  const payload = { body: 'Generator on its way.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) }
  const first = await post(tech, thread.id, 'late-retry', payload)
  assertStatus(t, first, 201)
  advance(6 * 60_000)
  const again = await post(tech, thread.id, 'late-retry', payload)
  assertStatus(t, again, 201)
  t.same(again.json(), first.json(), 'the post that was made, not a 400 for a promise now past')
  const fresh = await post(tech, thread.id, 'late-new', payload)
  assertError(t, fresh, 400, 'invalid_next_update')
})

t.test('concurrent requests with one key post once', async (t) => {
  const thread = await openThread(app, tech)
  const answers = await Promise.all(Array.from({ length: 5 }, () => post(alice, thread.id, 'race-1', { body: 'Double click' })))
  t.same(answers.map((res) => res.statusCode), [201, 201, 201, 201, 201], 'every request gets the answer')
  t.equal(new Set(answers.map((res) => res.json().id)).size, 1, 'all of them name the same post')
  const comments = (await readPosts(app, thread.id)).filter((p) => p.kind === 'comment')
  t.equal(comments.length, 1, 'one post only')
})

t.test('a retry with its fields in another order is the same request', async (t) => {
  const thread = await openThread(app, tech)
  const first = await app.inject({
    method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { ...tech.auth, 'idempotency-key': 'order-1', 'content-type': 'application/json' },
    payload: '{"body":"Cooling restored in room 3.","status":"monitoring","kind":"update"}'
  })
  assertStatus(t, first, 201)
  const again = await app.inject({
    method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { ...tech.auth, 'idempotency-key': 'order-1', 'content-type': 'application/json' },
    payload: '{"kind":"update","status":"monitoring","body":"Cooling restored in room 3."}'
  })
  assertStatus(t, again, 201)
  t.equal(again.json().id, first.json().id, 'the first answer')
  t.equal((await readPosts(app, thread.id)).filter((p) => p.body === 'Cooling restored in room 3.').length, 1, 'posted once')
})

t.test('a key claimed by the version before, its fingerprint taken of the fields as sent, is still recognised', async (t) => {
  const thread = await openThread(app, tech)
  const payload = { body: 'Claimed before the upgrade.' }
  const first = await post(alice, thread.id, 'upgrade-1', payload)
  assertStatus(t, first, 201)
  const asSent = createHash('sha256').update(JSON.stringify({ route: '/api/v1/threads/:id/posts', params: { id: thread.id }, body: payload })).digest('base64url')
  await app.db.updateTable('idempotency_keys').set({ request_hash: asSent }).where('user_id', '=', alice.actor.id).where('key', '=', 'upgrade-1').execute()
  const again = await post(alice, thread.id, 'upgrade-1', payload)
  assertStatus(t, again, 201)
  t.equal(again.json().id, first.json().id, 'the first answer, not a conflict')
  assertError(t, await post(alice, thread.id, 'upgrade-1', { body: 'Another text.' }), 409, 'idempotency_mismatch')
})

t.test('the same key with another request is a conflict', async (t) => {
  const thread = await openThread(app, tech)
  const other = await openThread(app, tech)
  assertStatus(t, await post(alice, thread.id, 'change-1', { body: 'First text' }), 201)
  assertError(t, await post(alice, thread.id, 'change-1', { body: 'Second text' }), 409, 'idempotency_mismatch')
  assertError(t, await post(alice, other.id, 'change-1', { body: 'First text' }), 409, 'idempotency_mismatch')
  t.same((await readPosts(app, thread.id)).filter((p) => p.kind === 'comment').map((p) => p.body), ['First text'])
  t.same((await readPosts(app, other.id)).filter((p) => p.kind === 'comment'), [], 'nothing posted in the other thread')
})

t.test('keys belong to their user', async (t) => {
  const thread = await openThread(app, tech)
  const a = await post(alice, thread.id, 'shared-key', { body: 'Same words' })
  const b = await post(bob, thread.id, 'shared-key', { body: 'Same words' })
  assertStatus(t, a, 201)
  assertStatus(t, b, 201)
  t.not(a.json().id, b.json().id, 'two posts')
  t.same((await readPosts(app, thread.id)).filter((p) => p.kind === 'comment').map((p) => p.author.id), [alice.actor.id, bob.actor.id])
})

t.test('a refused request does not use up its key', async (t) => {
  const thread = await openThread(app, tech)
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: true })
  assertError(t, await post(alice, thread.id, 'after-lock', { body: 'Let me in' }), 403, 'thread_locked')
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: false })
  const retry = await post(alice, thread.id, 'after-lock', { body: 'Let me in' })
  assertStatus(t, retry, 201, 'the retry posts once the thread is open again')
  t.equal(retry.json().body, 'Let me in')
})

t.test('opening a thread twice with one key opens one thread', async (t) => {
  const open = () => app.inject({
    method: 'POST', url: '/api/v1/threads', headers: { ...tech.auth, 'idempotency-key': 'open-1' },
    payload: { title: 'Cooling failure', body: 'Temperatures rising in hall 2.' }
  })
  const [first, second] = await Promise.all([open(), open()])
  assertStatus(t, first!, 201)
  assertStatus(t, second!, 201)
  t.equal(second!.json().id, first!.json().id, 'the same thread')
  const threads = (await app.inject({ url: '/api/v1/threads' })).json().threads as { title: string }[]
  t.equal(threads.filter((th) => th.title === 'Cooling failure').length, 1, 'one thread only')
})

t.test('an empty or overlong key is bad input, said as such to a script', async (t) => {
  const thread = await openThread(app, tech)
  assertError(t, await post(alice, thread.id, 'k'.repeat(201), { body: 'Hello' }), 400)
  assertError(t, await post(alice, thread.id, '', { body: 'Hello' }), 400)
  t.same((await readPosts(app, thread.id)).filter((p) => p.kind === 'comment'), [], 'nothing posted')
  // A script is told what is wrong with its key, in French as in English; not that a form expired.
  const french = await app.inject({
    method: 'POST', url: `/api/v1/threads/${thread.id}/posts?lang=fr`, headers: { ...alice.auth, 'idempotency-key': 'k'.repeat(201) }, payload: { body: 'Hello' }
  })
  t.equal(french.json().error.message, 'Une clé Idempotency-Key doit compter de 1 à 200 caractères.')
  assertStatus(t, await post(alice, thread.id, 'fr-1', { body: 'Hello' }), 201)
  const reused = await app.inject({
    method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { ...alice.auth, 'idempotency-key': 'fr-1', 'accept-language': 'fr' }, payload: { body: 'Bonjour' }
  })
  t.equal(reused.json().error.message, 'Cette clé Idempotency-Key a servi pour une autre requête.')
})

// Every POST of the API honours the key. Each case below changes the state
// back between the first request and its retry, so a retry that acted again
// would be seen.
const withKey = (user: TestUser, url: string, key: string, payload?: Record<string, unknown>) => app.inject({
  method: 'POST', url, headers: { ...user.auth, 'idempotency-key': key }, ...(payload !== undefined && { payload })
})

const commentIn = async (threadId: number): Promise<number> => (await writePost(app, alice, threadId, { body: 'A rumour about the cause' })).id

t.test('a hide retried after a colleague restored the post does not hide it again', async (t) => {
  const thread = await openThread(app, tech)
  const postId = await commentIn(thread.id)
  const first = await withKey(moderator, `/api/v1/posts/${postId}/hide`, 'hide-1', { reason: 'Off topic' })
  assertStatus(t, first, 200)
  await act(app, await makeUser(app, 'moderator'), 'POST', `/api/v1/posts/${postId}/restore`)
  const again = await withKey(moderator, `/api/v1/posts/${postId}/hide`, 'hide-1', { reason: 'Off topic' })
  assertStatus(t, again, 200)
  t.same(again.json(), first.json(), 'the first answer')
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === postId)?.hidden, false, 'the post stays as the colleague left it')
  assertError(t, await withKey(moderator, `/api/v1/posts/${postId}/hide`, 'hide-1', { reason: 'Spam' }), 409, 'idempotency_mismatch')
})

t.test('a restore retried after the post was hidden again does not restore it', async (t) => {
  const thread = await openThread(app, tech)
  const postId = await commentIn(thread.id)
  await act(app, moderator, 'POST', `/api/v1/posts/${postId}/hide`, { reason: 'Off topic' })
  const first = await withKey(moderator, `/api/v1/posts/${postId}/restore`, 'restore-1')
  assertStatus(t, first, 200)
  t.equal(first.json().hidden, false)
  await act(app, moderator, 'POST', `/api/v1/posts/${postId}/hide`, { reason: 'Abusive after all' })
  const again = await withKey(moderator, `/api/v1/posts/${postId}/restore`, 'restore-1')
  t.same(again.json(), first.json(), 'the first answer')
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === postId)?.hidden, true, 'the post stays hidden')
})

t.test('a flag retried gets its first answer, even when it hid the comment', async (t) => {
  const thread = await openThread(app, tech)
  const postId = await commentIn(thread.id)
  const flaggers = [bob, await makeUser(app, 'customer'), await makeUser(app, 'customer')]
  const answers = []
  for (const [i, user] of flaggers.entries()) {
    const first = await withKey(user, `/api/v1/posts/${postId}/flags`, `flag-${i}`, { reason: 'rumour' })
    assertStatus(t, first, 201)
    const again = await withKey(user, `/api/v1/posts/${postId}/flags`, `flag-${i}`, { reason: 'rumour' })
    assertStatus(t, again, 201, 'not "already flagged" nor "already hidden"')
    t.same(again.json(), first.json())
    answers.push(again.json().hidden)
  }
  t.same(answers, [false, false, true], 'the third flag hid the comment, and its retry says so')
  const queue = (await app.inject({ url: '/api/v1/flags', headers: moderator.auth })).json().flags as { post: { id: number }, count: number }[]
  t.equal(queue.find((entry) => entry.post.id === postId)?.count, 3, 'three flags, not six')
})

t.test('a moderator\'s retried click in the flag queue gets its first answer', async (t) => {
  const thread = await openThread(app, tech)
  for (const [action, key] of [['hide', 'queue-hide'], ['dismiss', 'queue-dismiss']] as const) {
    const postId = await commentIn(thread.id)
    assertStatus(t, await withKey(bob, `/api/v1/posts/${postId}/flags`, `${key}-flag`, { reason: 'spam' }), 201)
    const first = await withKey(moderator, `/api/v1/posts/${postId}/flags/${action}`, key)
    assertStatus(t, first, 200)
    const again = await withKey(moderator, `/api/v1/posts/${postId}/flags/${action}`, key)
    assertStatus(t, again, 200, `${action}: not a 404 for flags already closed`)
    t.same(again.json(), first.json())
  }
})

t.test('check-in and check-out retried after a change of mind do not undo it', async (t) => {
  const staff = await makeUser(app, 'technician')
  const onDuty = async () => ((await app.inject({ url: '/api/v1/duty' })).json().onDuty as { userId: number }[]).some((p) => p.userId === staff.actor.id)
  const checkIn = await withKey(staff, '/api/v1/duty/check-in', 'in-1', {})
  assertStatus(t, checkIn, 200)
  await act(app, staff, 'POST', '/api/v1/duty/check-out')
  const inAgain = await withKey(staff, '/api/v1/duty/check-in', 'in-1', {})
  t.same(inAgain.json(), checkIn.json(), 'the check-in\'s first answer')
  t.equal(await onDuty(), false, 'still checked out')

  await act(app, staff, 'POST', '/api/v1/duty/check-in', {})
  const checkOut = await withKey(staff, '/api/v1/duty/check-out', 'out-1')
  assertStatus(t, checkOut, 200)
  await act(app, staff, 'POST', '/api/v1/duty/check-in', {})
  const outAgain = await withKey(staff, '/api/v1/duty/check-out', 'out-1')
  t.same(outAgain.json(), checkOut.json(), 'the check-out\'s first answer')
  t.equal(await onDuty(), true, 'still on duty')
})

const tokenRequest = (email: string, password: string, key: string, server = app) => server.inject({
  method: 'POST', url: '/api/v1/tokens', headers: { 'idempotency-key': key }, payload: { email, password }
})
const liveTokens = async (userId: number) => (await app.db.selectFrom('api_tokens').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute()).length

t.test('a token request retried with its key gets the same token, and one token is made', async (t) => {
  const user = await makeUser(app, 'customer')
  const before = await liveTokens(user.actor.id)
  const first = await tokenRequest(user.actor.email, PASSWORD, 'token-1')
  assertStatus(t, first, 201)
  const again = await tokenRequest(user.actor.email.toUpperCase(), PASSWORD, 'token-1')
  assertStatus(t, again, 201)
  t.equal(again.json().token, first.json().token, 'the same token')
  t.equal(await liveTokens(user.actor.id), before + 1, 'one new token')
  const me = await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${again.json().token as string}` } })
  t.equal(me.json().id, user.actor.id, 'the token works')

  assertError(t, await tokenRequest(user.actor.email, 'wrong password', 'token-1'), 401, 'invalid_credentials')
  const kept = await app.db.selectFrom('idempotency_keys').select(['request_hash', 'response']).where('user_id', '=', user.actor.id).where('key', '=', 'token-1').executeTakeFirstOrThrow()
  t.notMatch(JSON.stringify(kept), first.json().token, 'the database does not hold the token')
  t.notMatch(JSON.stringify(kept), hashRequest({ route: '/api/v1/tokens', params: {}, body: { email: user.actor.email, password: PASSWORD } }), 'nor a hash of the password')
})

t.test('a server with another secret cannot read a kept token answer, and says so', async (t) => {
  const user = await makeUser(app, 'customer')
  assertStatus(t, await tokenRequest(user.actor.email, PASSWORD, 'token-2'), 201)
  const other = await buildSecondInstance(t, testApp, {}, { sessionSecret: 'another-secret-that-is-long-enough-for-hmac' })
  assertError(t, await tokenRequest(user.actor.email, PASSWORD, 'token-2', other), 409, 'idempotency_unreadable')
  assertStatus(t, await tokenRequest(user.actor.email, PASSWORD, 'token-3', other), 201, 'a new key gets a token')
})

t.test('an admin\'s token request retried with its key gets the same token, logged once', async (t) => {
  const admin = await makeUser(app, 'admin')
  const user = await makeUser(app, 'technician')
  const first = await withKey(admin, '/api/v1/admin/tokens', 'admin-token-1', { userId: user.actor.id })
  assertStatus(t, first, 201)
  const again = await withKey(admin, '/api/v1/admin/tokens', 'admin-token-1', { userId: user.actor.id })
  t.same(again.json(), first.json(), 'the same token')
  const logged = await app.db.selectFrom('audit_log').select('id').where('action', '=', 'token.create').where('target_user_id', '=', user.actor.id).execute()
  t.equal(logged.length, 1, 'one token.create in the audit log')
})

t.test('a token request retried after its token was revoked gets a 409, not a dead token', async (t) => {
  const user = await makeUser(app, 'customer')
  const first = await tokenRequest(user.actor.email, PASSWORD, 'token-revoked')
  assertStatus(t, first, 201)
  await app.db.updateTable('api_tokens').set({ revoked_at: new Date() }).where('user_id', '=', user.actor.id).execute()
  assertError(t, await tokenRequest(user.actor.email, PASSWORD, 'token-revoked'), 409, 'idempotency_revoked')
  const fresh = await tokenRequest(user.actor.email, PASSWORD, 'token-after-revoke')
  assertStatus(t, fresh, 201, 'a new key gets a new token')
  t.not(fresh.json().token, first.json().token)
})
