import t from 'tap'
import { buildTestApp, makeUser, type TestUser } from '../helpers/app.ts'
import { assertError, assertStatus, act, inFuture, openThread, readPosts } from '../helpers/api.ts'

const { app, advance } = await buildTestApp(t)
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

t.test('an empty or overlong key is bad input', async (t) => {
  const thread = await openThread(app, tech)
  assertError(t, await post(alice, thread.id, 'k'.repeat(201), { body: 'Hello' }), 400)
  assertError(t, await post(alice, thread.id, '', { body: 'Hello' }), 400)
  t.same((await readPosts(app, thread.id)).filter((p) => p.kind === 'comment'), [], 'nothing posted')
})
