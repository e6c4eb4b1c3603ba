import type { InjectOptions } from 'fastify'
import t from 'tap'
import type { Role } from '../../src/db/database.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser, makeUserOfEachRole, type TestUser } from '../helpers/app.ts'
import { assertError, assertStatus, headersOf, openThread, writePost } from '../helpers/api.ts'

type Who = 'anonymous' | Role
const EVERYONE: readonly Who[] = ['anonymous', 'customer', 'technician', 'moderator', 'admin']
const SIGNED_IN: readonly Who[] = ['customer', 'technician', 'moderator', 'admin']
const MODERATORS: readonly Who[] = ['moderator', 'admin']
const ADMINS: readonly Who[] = ['admin']

const { app } = await buildTestApp(t)
const opener = await makeUser(app, 'technician')
const asker = await makeUser(app, 'customer')
const flagger = await makeUser(app, 'customer')
const keeper = await makeUser(app, 'moderator')
const users: Record<Role, TestUser> = await makeUserOfEachRole(app)
const userOf = (who: Who): TestUser | null => who === 'anonymous' ? null : users[who]

interface Scene { thread: Thread, update: Post, question: Post, victim: TestUser }

async function setScene (): Promise<Scene> {
  const thread = await openThread(app, opener)
  const update = await writePost(app, opener, thread.id, { body: 'Power is back in room 2.' })
  const question = await writePost(app, asker, thread.id, { body: 'Is room 2 back?' })
  const victim = await makeUser(app, 'customer')
  return { thread, update, question, victim }
}

interface Action {
  name: string
  allowed: readonly Who[]
  status: number
  prepare?: (scene: Scene) => Promise<void>
  request: (scene: Scene) => InjectOptions
}

const ACTIONS: Action[] = [
  { name: 'GET pin history', allowed: EVERYONE, status: 200, request: (s) => ({ method: 'GET', url: `/api/v1/threads/${s.thread.id}/pins` }) },
  { name: 'post and pin a summary', allowed: MODERATORS, status: 201, request: (s) => ({ method: 'POST', url: `/api/v1/threads/${s.thread.id}/summary`, payload: { body: 'Summary: power back, network next.' } }) },
  { name: 'flag a comment', allowed: SIGNED_IN, status: 201, request: (s) => ({ method: 'POST', url: `/api/v1/posts/${s.question.id}/flags`, payload: { reason: 'spam' } }) },
  { name: 'read the flag queue', allowed: MODERATORS, status: 200, request: () => ({ method: 'GET', url: '/api/v1/flags' }) },
  {
    name: 'hide from the flag queue',
    allowed: MODERATORS,
    status: 200,
    prepare: async (s) => { await app.inject({ method: 'POST', url: `/api/v1/posts/${s.question.id}/flags`, headers: flagger.auth, payload: { reason: 'rumour' } }) },
    request: (s) => ({ method: 'POST', url: `/api/v1/posts/${s.question.id}/flags/hide` })
  },
  {
    name: 'dismiss flags',
    allowed: MODERATORS,
    status: 200,
    prepare: async (s) => { await app.inject({ method: 'POST', url: `/api/v1/posts/${s.question.id}/flags`, headers: flagger.auth, payload: { reason: 'spam' } }) },
    request: (s) => ({ method: 'POST', url: `/api/v1/posts/${s.question.id}/flags/dismiss` })
  },
  { name: 'link an answer', allowed: MODERATORS, status: 200, request: (s) => ({ method: 'PUT', url: `/api/v1/posts/${s.question.id}/answer`, payload: { updateId: s.update.id } }) },
  {
    name: 'unlink an answer',
    allowed: MODERATORS,
    status: 200,
    prepare: async (s) => { await app.inject({ method: 'PUT', url: `/api/v1/posts/${s.question.id}/answer`, headers: keeper.auth, payload: { updateId: s.update.id } }) },
    request: (s) => ({ method: 'DELETE', url: `/api/v1/posts/${s.question.id}/answer` })
  },
  { name: 'crisis mode', allowed: MODERATORS, status: 200, request: (s) => ({ method: 'PATCH', url: `/api/v1/threads/${s.thread.id}`, payload: { crisisMode: true, crisisReadOnly: true } }) },
  { name: 'read the audit log', allowed: MODERATORS, status: 200, request: (s) => ({ method: 'GET', url: `/api/v1/audit?threadId=${s.thread.id}` }) },
  { name: 'list users', allowed: ADMINS, status: 200, request: () => ({ method: 'GET', url: '/api/v1/users' }) },
  { name: 'change a role', allowed: ADMINS, status: 200, request: (s) => ({ method: 'PATCH', url: `/api/v1/users/${s.victim.actor.id}`, payload: { role: 'technician', shift: 'night' } }) },
  { name: 'list API tokens', allowed: ADMINS, status: 200, request: () => ({ method: 'GET', url: '/api/v1/admin/tokens' }) },
  { name: 'create an API token', allowed: ADMINS, status: 201, request: (s) => ({ method: 'POST', url: '/api/v1/admin/tokens', payload: { userId: s.victim.actor.id } }) },
  {
    name: 'revoke an API token',
    allowed: ADMINS,
    status: 204,
    request: (s) => ({ method: 'DELETE', url: `/api/v1/admin/tokens/${victimTokenId(s)}` })
  }
]

// The token makeUser gave the scene's victim: the newest of its tokens.
const tokenIds = new Map<number, number>()
const victimTokenId = (s: Scene): number => tokenIds.get(s.victim.actor.id)!

for (const action of ACTIONS) {
  t.test(action.name, async (t) => {
    for (const who of EVERYONE) {
      const scene = await setScene()
      const row = await app.db.selectFrom('api_tokens').select('id').where('user_id', '=', scene.victim.actor.id).executeTakeFirstOrThrow()
      tokenIds.set(scene.victim.actor.id, row.id)
      await action.prepare?.(scene)
      const request = action.request(scene)
      const res = await app.inject({ ...request, headers: headersOf(userOf(who)) })
      if (action.allowed.includes(who)) assertStatus(t, res, action.status, `${who} may: ${res.statusCode}`)
      else if (who === 'anonymous') assertError(t, res, 401)
      else assertError(t, res, 403)
    }
  })
}

t.test('pages for moderators and admins ask anonymous readers to sign in, and refuse others', async (t) => {
  for (const url of ['/mod/flags', '/mod/audit', '/admin/users', '/admin/tokens']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 303, `${url}: anonymous readers go to sign in`)
    t.match(String(res.headers.location), /^\/login\?next=/)
  }
})
