import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { Post } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertStatus, eventLog, act, openThread, readPosts, readThread, writePost } from '../helpers/api.ts'

const { app } = await buildTestApp(t)
const techs = [await makeUser(app, 'technician', { shift: 'day' }), await makeUser(app, 'technician', { shift: 'night' })]
const customers = [await makeUser(app, 'customer'), await makeUser(app, 'customer'), await makeUser(app, 'customer'), await makeUser(app, 'customer')]
const moderator = await makeUser(app, 'moderator')

/** The writes of a busy minute on one thread: comments, updates, and status changes between them. */
function burst (threadId: number, count: number): { requests: InjectOptions[], posts: number, updates: number, patches: number } {
  const requests: InjectOptions[] = []
  let posts = 0
  let updates = 0
  let patches = 0
  const statuses = ['identified', 'monitoring', 'investigating']
  for (let i = 0; i < count; i++) {
    posts++
    if (i % 5 === 0) {
      updates++
      requests.push({ method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: techs[i % 2]!.auth, payload: { body: `Update ${i}` } })
    } else {
      requests.push({ method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: customers[i % 4]!.auth, payload: { body: `Comment ${i}` } })
    }
    if (i % 8 === 3) {
      patches++
      // Each changes something, whatever order they land in: a patch that changes nothing is no event.
      requests.push({ method: 'PATCH', url: `/api/v1/threads/${threadId}`, headers: techs[0]!.auth, payload: { status: statuses[patches % 3], cadenceMinutes: 100 + patches } })
    }
  }
  return { requests, posts, updates, patches }
}

async function checkLog (t: Test, threadId: number, expectedEvents: number): Promise<void> {
  const log = await eventLog(app, threadId)
  t.same(log.map((e) => e.seq), Array.from({ length: log.length }, (_, i) => i + 1), 'seq runs 1..N with no gap and no duplicate')
  t.equal(log.length, expectedEvents, 'one event per change, none lost, none doubled')
  const thread = await readThread(app, threadId)
  t.equal(thread.lastSeq, log.length, "the thread's lastSeq is the last event's seq")

  const posts = await readPosts(app, threadId, moderator)
  const byId = new Map<number, Post>(posts.map((p) => [p.id, p]))
  const created = log.filter((e) => e.type === 'post.created').map((e) => e.payload.post as Post)
  t.same(created.map((p) => p.id).sort((a, b) => a - b), posts.map((p) => p.id), 'each post has exactly one post.created event')
  for (const post of created) {
    const stored = byId.get(post.id)
    if (stored === undefined || stored.body !== post.body || stored.threadId !== threadId) {
      t.fail(`post.created event for post ${post.id} does not match the post`, { post, stored })
    }
  }
  const ids = created.map((p) => p.id)
  t.same(ids, [...ids].sort((a, b) => a - b), 'post.created events follow the order the posts were committed')
  for (const event of log.filter((e) => e.type === 'thread.updated')) {
    if (event.payload.thread.lastSeq !== event.seq) t.fail(`thread.updated at seq ${event.seq} carries lastSeq ${event.payload.thread.lastSeq}`)
  }
  t.equal(thread.postCount, posts.length, 'postCount counts every post')
}

t.test('concurrent writes to one thread leave a log with no gap and no duplicate', async (t) => {
  const thread = await openThread(app, techs[0]!)
  const { requests, posts, updates, patches } = burst(thread.id, 40)
  const answers = await Promise.all(requests.map((r) => app.inject(r)))
  const failed = answers.filter((res: LightMyRequestResponse) => res.statusCode !== 200 && res.statusCode !== 201)
  t.same(failed.map((res) => `${res.statusCode} ${res.body}`), [], 'every write succeeded')
  // The opening post, one post.created per post, and a thread.updated per update and per status change.
  await checkLog(t, thread.id, 1 + posts + updates + patches)
})

t.test('two busy threads each count their own events from 1', async (t) => {
  const first = await openThread(app, techs[0]!, { title: 'Storage array failure' })
  const second = await openThread(app, techs[1]!, { title: 'Mail delays' })
  const a = burst(first.id, 25)
  const b = burst(second.id, 25)
  const interleaved = a.requests.flatMap((r, i) => [r, b.requests[i]!])
  const answers = await Promise.all(interleaved.map((r) => app.inject(r)))
  t.same(answers.filter((res) => res.statusCode >= 300).map((res) => res.body), [], 'every write succeeded')
  await checkLog(t, first.id, 1 + a.posts + a.updates + a.patches)
  await checkLog(t, second.id, 1 + b.posts + b.updates + b.patches)
})

t.test('each change appends exactly the events it should', async (t) => {
  const tech = techs[0]!
  const customer = customers[0]!
  const thread = await openThread(app, tech)
  const comment = await writePost(app, customer, thread.id, { body: 'When will it be back?' })
  const update = await writePost(app, tech, thread.id, { body: 'Within the hour.' })

  /** Runs one change and returns the events it appended. */
  async function eventsOf (change: () => Promise<unknown>) {
    const before = (await readThread(app, thread.id)).lastSeq
    await change()
    return await eventLog(app, thread.id, before)
  }
  const types = (events: { type: string }[]) => events.map((e) => e.type)

  const commented = await eventsOf(() => writePost(app, customer, thread.id, { body: 'Thanks!' }))
  t.same(types(commented), ['post.created'], 'a comment: post.created')

  const updated = await eventsOf(() => writePost(app, tech, thread.id, { body: 'Back on mains power.', status: 'monitoring' }))
  t.same(types(updated), ['post.created', 'thread.updated'], 'an update: post.created, then thread.updated')
  t.equal(updated[1]?.payload.thread.status, 'monitoring')

  const edited = await eventsOf(() => act(app, customer, 'PATCH', `/api/v1/posts/${comment.id}`, { body: 'When will mail be back?' }))
  t.same(types(edited), ['post.updated'], 'an edit: post.updated')
  t.equal(edited[0]?.payload.post.body, 'When will mail be back?')

  const hidden = await eventsOf(() => act(app, moderator, 'POST', `/api/v1/posts/${comment.id}/hide`, { reason: 'Duplicate question' }))
  t.same(types(hidden), ['post.hidden'], 'hide: post.hidden')
  t.equal(hidden[0]?.payload.post.id, comment.id)
  t.equal(hidden[0]?.payload.post.hidden, true)

  const restored = await eventsOf(() => act(app, moderator, 'POST', `/api/v1/posts/${comment.id}/restore`))
  t.same(types(restored), ['post.restored'], 'restore: post.restored')
  t.equal(restored[0]?.payload.post.hidden, false)

  const pinned = await eventsOf(() => act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: update.id }))
  t.same(types(pinned), ['thread.updated'], 'pin: thread.updated')
  t.equal(pinned[0]?.payload.thread.pinnedPostId, update.id)

  const unpinned = await eventsOf(() => act(app, moderator, 'DELETE', `/api/v1/threads/${thread.id}/pin`))
  t.same(types(unpinned), ['thread.updated'], 'unpin: thread.updated')
  t.equal(unpinned[0]?.payload.thread.pinnedPostId, null)

  const locked = await eventsOf(() => act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: true }))
  t.same(types(locked), ['thread.updated'], 'lock: thread.updated')
  t.equal(locked[0]?.payload.thread.locked, true)

  const status = await eventsOf(() => act(app, tech, 'PATCH', `/api/v1/threads/${thread.id}`, { status: 'resolved' }))
  t.same(types(status), ['thread.updated'], 'status change: thread.updated')
  t.equal(status[0]?.payload.thread.status, 'resolved')

  const refused = await eventsOf(async () => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: customer.auth, payload: { body: 'Locked out?' } })
    assertStatus(t, res, 403, 'a customer cannot comment in a locked thread')
  })
  t.same(types(refused), [], 'a refused write appends nothing')

  const sameAgain = await eventsOf(() => act(app, moderator, 'POST', `/api/v1/posts/${comment.id}/restore`))
  t.same(types(sameAgain), [], 'restoring a visible post changes nothing and appends nothing')
  const noPin = await eventsOf(() => act(app, moderator, 'DELETE', `/api/v1/threads/${thread.id}/pin`))
  t.same(types(noPin), [], 'unpinning with nothing pinned appends nothing')
})

t.test('hiding the pinned post also unpins it, in the same log', async (t) => {
  const thread = await openThread(app, techs[0]!)
  const [first] = await readPosts(app, thread.id)
  await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: first!.id })
  const before = (await readThread(app, thread.id)).lastSeq
  await act(app, moderator, 'POST', `/api/v1/posts/${first!.id}/hide`, { reason: 'Wrong incident' })
  const events = await eventLog(app, thread.id, before)
  t.same(events.map((e) => e.type), ['post.hidden', 'thread.updated'])
  t.equal(events[1]?.payload.thread.pinnedPostId, null)
})
