import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { Role } from '../../src/db/database.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser, makeUserOfEachRole, type TestUser } from '../helpers/app.ts'
import { assertError, assertStatus, headersOf, inFuture, act, openThread, readPosts, readThread, writePost } from '../helpers/api.ts'
import { signIn } from '../helpers/pages.ts'

type Who = 'anonymous' | Role
const EVERYONE: readonly Who[] = ['anonymous', 'customer', 'technician', 'moderator', 'admin']
const SIGNED_IN: readonly Who[] = ['customer', 'technician', 'moderator', 'admin']
const STAFF: readonly Who[] = ['technician', 'moderator', 'admin']
const MODERATORS: readonly Who[] = ['moderator', 'admin']

const { app } = await buildTestApp(t)
const opener = await makeUser(app, 'technician', { shift: 'day' })
const bystander = await makeUser(app, 'customer')
const keeper = await makeUser(app, 'moderator')
const users: Record<Role, TestUser> = await makeUserOfEachRole(app, 'evening')
const userOf = (who: Who): TestUser | null => who === 'anonymous' ? null : users[who]

/** A fresh thread for each cell, so no action sees another's leftovers. */
interface Scene {
  thread: Thread
  /** The thread's first post, an update by the technician who opened it. */
  first: Post
  /** A comment by another customer. */
  othersComment: Post
  /** A post by the acting user, when signed in. */
  own: Post | null
}

async function setScene (who: Who): Promise<Scene> {
  const thread = await openThread(app, opener)
  const [first] = await readPosts(app, thread.id)
  const othersComment = await writePost(app, bystander, thread.id, { body: 'Any news about the mail servers?' })
  const user = userOf(who)
  const own = user === null ? null : await writePost(app, user, thread.id, { body: 'My own words.' })
  return { thread, first: first!, othersComment, own }
}

interface Action {
  name: string
  /** Who may do it; anyone else signed in gets 403, an anonymous caller 401. */
  allowed: readonly Who[]
  status: number
  /** What has to be true before the action, done by someone allowed to. */
  prepare?: (scene: Scene) => Promise<void>
  request: (scene: Scene, who: Who) => InjectOptions
  /** What the user sees after it worked. */
  verify: (t: Test, res: LightMyRequestResponse, scene: Scene, who: Who) => Promise<void> | void
}

const postTo = (scene: Scene, payload: Record<string, unknown>): InjectOptions =>
  ({ method: 'POST', url: `/api/v1/threads/${scene.thread.id}/posts`, payload })

const ACTIONS: Action[] = [
  {
    name: 'open a thread',
    allowed: STAFF,
    status: 201,
    request: () => ({ method: 'POST', url: '/api/v1/threads', payload: { title: 'Campus network down', body: 'All buildings affected.' } }),
    verify: async (t, res) => {
      const thread = await readThread(app, res.json().id)
      t.equal(thread.title, 'Campus network down')
      const posts = await readPosts(app, thread.id)
      t.same(posts.map((p) => [p.kind, p.body]), [['update', 'All buildings affected.']], 'the body is the first update')
    }
  },
  {
    name: 'post a comment',
    allowed: SIGNED_IN,
    status: 201,
    request: (scene) => postTo(scene, { body: 'Thanks for the update.', kind: 'comment' }),
    verify: (t, res) => { t.equal(res.json().kind, 'comment') }
  },
  {
    name: 'post without naming a kind',
    allowed: SIGNED_IN,
    status: 201,
    request: (scene) => postTo(scene, { body: 'Still down here.' }),
    verify: (t, res, _scene, who) => { t.equal(res.json().kind, who === 'customer' ? 'comment' : 'update', 'customers comment, staff update') }
  },
  {
    name: 'post an update',
    allowed: STAFF,
    status: 201,
    request: (scene) => postTo(scene, { body: 'Generators are running.', kind: 'update' }),
    verify: (t, res) => { t.equal(res.json().kind, 'update') }
  },
  {
    name: 'post a handover',
    allowed: STAFF,
    status: 201,
    request: (scene) => postTo(scene, { body: 'Night shift takes over.', kind: 'handover' }),
    verify: (t, res) => { t.equal(res.json().kind, 'handover') }
  },
  {
    name: 'set the status with a post',
    allowed: STAFF,
    status: 201,
    request: (scene) => postTo(scene, { body: 'Found it: a failed breaker.', status: 'identified' }),
    verify: async (t, _res, scene) => { t.equal((await readThread(app, scene.thread.id)).status, 'identified') }
  },
  {
    name: 'promise the next update with a post',
    allowed: STAFF,
    status: 201,
    request: (scene) => postTo(scene, { body: 'More soon.', nextUpdateAt: inFuture(3_600_000) }),
    verify: async (t, res, scene) => {
      const thread = await readThread(app, scene.thread.id)
      t.ok(thread.nextUpdateAt, 'the thread shows the promise')
      t.equal(thread.nextUpdateAt, res.json().nextUpdateAt)
    }
  },
  {
    name: 'edit their own post',
    allowed: SIGNED_IN,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/posts/${(scene.own ?? scene.othersComment).id}`, payload: { body: 'My corrected words.' } }),
    verify: (t, res) => { t.equal(res.json().body, 'My corrected words.') }
  },
  {
    name: "edit another's post",
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/posts/${scene.othersComment.id}`, payload: { body: 'Edited by someone else.' } }),
    verify: async (t, res, scene) => {
      t.equal(res.json().body, 'Edited by someone else.')
      t.equal(res.json().author.id, bystander.actor.id, 'the author stays the author')
      const posts = await readPosts(app, scene.thread.id)
      t.equal(posts.find((p) => p.id === scene.othersComment.id)?.body, 'Edited by someone else.')
    }
  },
  {
    name: 'hide a post',
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'POST', url: `/api/v1/posts/${scene.othersComment.id}/hide`, payload: { reason: 'Off topic' } }),
    verify: async (t, res, scene) => {
      t.equal(res.json().hidden, true)
      const seen = (await readPosts(app, scene.thread.id)).find((p) => p.id === scene.othersComment.id)
      t.equal(seen?.hidden, true)
    }
  },
  {
    name: 'restore a post',
    allowed: MODERATORS,
    status: 200,
    prepare: async (scene) => { await act(app, keeper, 'POST', `/api/v1/posts/${scene.othersComment.id}/hide`, { reason: 'Spam' }) },
    request: (scene) => ({ method: 'POST', url: `/api/v1/posts/${scene.othersComment.id}/restore` }),
    verify: async (t, res, scene) => {
      t.equal(res.json().hidden, false)
      const seen = (await readPosts(app, scene.thread.id)).find((p) => p.id === scene.othersComment.id)
      t.equal(seen?.body, scene.othersComment.body, 'readers see the text again')
    }
  },
  {
    name: 'pin a post',
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'PUT', url: `/api/v1/threads/${scene.thread.id}/pin`, payload: { postId: scene.first.id } }),
    verify: async (t, res, scene) => {
      t.equal(res.json().pinnedPostId, scene.first.id)
      t.equal((await readThread(app, scene.thread.id)).pinnedPostId, scene.first.id)
    }
  },
  {
    name: 'unpin',
    allowed: MODERATORS,
    status: 200,
    prepare: async (scene) => { await act(app, keeper, 'PUT', `/api/v1/threads/${scene.thread.id}/pin`, { postId: scene.first.id }) },
    request: (scene) => ({ method: 'DELETE', url: `/api/v1/threads/${scene.thread.id}/pin` }),
    verify: async (t, _res, scene) => { t.equal((await readThread(app, scene.thread.id)).pinnedPostId, null) }
  },
  {
    name: 'change the thread status',
    allowed: STAFF,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/threads/${scene.thread.id}`, payload: { status: 'monitoring' } }),
    verify: async (t, _res, scene) => { t.equal((await readThread(app, scene.thread.id)).status, 'monitoring') }
  },
  {
    name: 'lock the thread',
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/threads/${scene.thread.id}`, payload: { locked: true } }),
    verify: async (t, _res, scene) => { t.equal((await readThread(app, scene.thread.id)).locked, true) }
  },
  {
    name: 'set slow mode',
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/threads/${scene.thread.id}`, payload: { slowModeSeconds: 30 } }),
    verify: (t, res) => { t.equal(res.json().slowModeSeconds, 30) }
  },
  {
    name: 'rename the thread',
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/threads/${scene.thread.id}`, payload: { title: 'Power loss in DC1 (building B)' } }),
    verify: async (t, _res, scene) => { t.equal((await readThread(app, scene.thread.id)).title, 'Power loss in DC1 (building B)') }
  },
  {
    name: 'change the status and the title at once',
    allowed: MODERATORS,
    status: 200,
    request: (scene) => ({ method: 'PATCH', url: `/api/v1/threads/${scene.thread.id}`, payload: { status: 'resolved', title: 'Fixed' } }),
    verify: async (t, _res, scene) => {
      const thread = await readThread(app, scene.thread.id)
      t.same([thread.status, thread.title], ['resolved', 'Fixed'])
    }
  }
]

/** What anyone can observe of the scene: a refused action must leave all of it as it was. */
async function observe (scene: Scene) {
  const threads = (await app.inject({ url: '/api/v1/threads' })).json().threads.length
  return { threads, thread: await readThread(app, scene.thread.id), posts: await readPosts(app, scene.thread.id, keeper) }
}

for (const action of ACTIONS) {
  t.test(action.name, async (t) => {
    for (const who of EVERYONE) {
      const allowed = action.allowed.includes(who)
      const expected = allowed ? action.status : who === 'anonymous' ? 401 : 403
      await t.test(`${who}: ${expected}`, async (t) => {
        const scene = await setScene(who)
        await action.prepare?.(scene)
        const before = await observe(scene)
        const request = action.request(scene, who)
        const res = await app.inject({ ...request, headers: headersOf(userOf(who)) })
        if (allowed) {
          assertStatus(t, res, expected)
          await action.verify(t, res, scene, who)
        } else {
          assertError(t, res, expected, who === 'anonymous' ? 'unauthorized' : undefined)
          t.same(await observe(scene), before, 'nothing changed')
        }
      })
    }
  })
}

t.test('anyone reads threads and posts', async (t) => {
  const scene = await setScene('customer')
  for (const who of EVERYONE) {
    const headers = headersOf(userOf(who))
    const list = await app.inject({ url: '/api/v1/threads', headers })
    t.equal(list.statusCode, 200, `${who} lists the threads`)
    t.ok(list.json().threads.some((th: Thread) => th.id === scene.thread.id), `${who} sees the thread in the list`)
    const one = await app.inject({ url: `/api/v1/threads/${scene.thread.id}`, headers })
    t.equal(one.statusCode, 200, `${who} reads the thread`)
    t.equal(one.json().title, scene.thread.title)
    const posts = await app.inject({ url: `/api/v1/threads/${scene.thread.id}/posts`, headers })
    t.equal(posts.statusCode, 200, `${who} reads the posts`)
    t.same(posts.json().posts.map((p: Post) => p.id), [scene.first.id, scene.othersComment.id, scene.own!.id])
    const post = await app.inject({ url: `/api/v1/posts/${scene.othersComment.id}`, headers })
    t.equal(post.statusCode, 200, `${who} reads one post`)
    t.equal(post.json().body, scene.othersComment.body)
  }
})

t.test('revisions are for moderators and admins', async (t) => {
  const scene = await setScene('customer')
  for (const who of EVERYONE) {
    const res = await app.inject({ url: `/api/v1/posts/${scene.othersComment.id}/revisions`, headers: headersOf(userOf(who)) })
    if (MODERATORS.includes(who)) t.equal(res.statusCode, 200, `${who} reads them`)
    else assertError(t, res, who === 'anonymous' ? 401 : 403)
  }
})

t.test("a signed-in caller's answers are kept by no cache between them and the server; a hidden post's text goes no further", async (t) => {
  const thread = await openThread(app, opener)
  const comment = await writePost(app, bystander, thread.id, { body: 'My account number is 4242.' })
  await act(app, keeper, 'POST', `/api/v1/posts/${comment.id}/hide`, { reason: 'Personal data' })
  const asModerator = await app.inject({ url: `/api/v1/posts/${comment.id}`, headers: keeper.auth })
  t.match(asModerator.json().body, /4242/, 'a moderator reads the hidden text')
  t.equal(asModerator.headers['cache-control'], 'private, no-store', 'in an answer no shared cache may keep')
  const cookies = await signIn(app, keeper)
  const bySession = await app.inject({ url: `/api/v1/threads/${thread.id}/posts`, cookies })
  t.match(bySession.body, /4242/)
  t.equal(bySession.headers['cache-control'], 'private, no-store', 'so with a session as with a token')
  t.equal((await app.inject({ url: '/api/v1/me', headers: bystander.auth })).headers['cache-control'], 'private, no-store', 'and whoever asks who they are')
  const anonymous = await app.inject({ url: `/api/v1/posts/${comment.id}` })
  t.notMatch(anonymous.body, /4242/)
  t.not(anonymous.headers['cache-control'], 'private, no-store', 'what anyone may read stays for caches to keep')
})
