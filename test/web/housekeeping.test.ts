import t from 'tap'
import { KEY_LIFETIME_MS } from '../../src/domain/idempotency.ts'
import { SESSION_IDLE_MS } from '../../src/domain/sessions.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertStatus, openThread, readPosts } from '../helpers/api.ts'
import { signIn } from '../helpers/pages.ts'

// Sessions and idempotency keys are swept once past their time: the tables
// do not grow for ever, and a key is remembered for a day.
const { app, advance } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const customer = await makeUser(app, 'customer')

const post = (key: string) => app.inject({
  method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { ...customer.auth, 'idempotency-key': key }, payload: { body: 'Is the VPN down too?' }
})
const thread = await openThread(app, tech)
const count = async (table: 'sessions' | 'idempotency_keys', userId: number) =>
  Number((await app.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow()).n)

t.test('a key is remembered until the sweep after a day; then the same key posts anew', async (t) => {
  assertStatus(t, await post('day-old'), 201)
  await app.sweep()
  assertStatus(t, await post('day-old'), 201)
  t.equal((await readPosts(app, thread.id)).filter((p) => p.kind === 'comment').length, 1, 'a retry within the day posts nothing more')
  advance(KEY_LIFETIME_MS + 60_000)
  await app.sweep()
  t.equal(await count('idempotency_keys', customer.actor.id), 0, 'the key is gone')
  assertStatus(t, await post('day-old'), 201)
  t.equal((await readPosts(app, thread.id)).filter((p) => p.kind === 'comment').length, 2, 'a day later, the key is new again')
})

t.test('sessions past their time are deleted; live ones are kept', async (t) => {
  const stale = await makeUser(app, 'customer')
  const cookies = await signIn(app, stale)
  t.equal(await count('sessions', stale.actor.id), 1)
  advance(SESSION_IDLE_MS / 2)
  const fresh = await makeUser(app, 'customer')
  await signIn(app, fresh)
  advance(SESSION_IDLE_MS / 2 + 60_000)
  await app.sweep()
  t.equal(await count('sessions', stale.actor.id), 0, 'the session idle for longer than its limit is gone')
  t.equal(await count('sessions', fresh.actor.id), 1, 'the other is kept')
  const page = await app.inject({ url: '/account', cookies })
  t.equal(page.statusCode, 303, 'the swept session signs in no more')
})
