import t from 'tap'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, inFuture, openThread, readPosts, readThread, writePost } from '../helpers/api.ts'

const { app, advance } = await buildTestApp(t)
// The app's clock: real time, moved forward by advance().
let skipped = 0
const now = () => Date.now() + skipped
const skip = (ms: number) => { skipped += ms; advance(ms) }

const tech = await makeUser(app, 'technician', { shift: 'night' })
const moderator = await makeUser(app, 'moderator')
const customer = await makeUser(app, 'customer')
const other = await makeUser(app, 'customer')

t.test('an update with a status changes the thread status', async (t) => {
  const thread = await openThread(app, tech, { status: 'identified' })
  t.equal(thread.status, 'identified', 'a thread may open with a status')
  const update = await writePost(app, tech, thread.id, { body: 'Failover done.', status: 'monitoring' })
  t.equal(update.status, 'monitoring', 'the update records the status it set')
  t.equal((await readThread(app, thread.id)).status, 'monitoring')
  await writePost(app, tech, thread.id, { body: 'Still watching.' })
  t.equal((await readThread(app, thread.id)).status, 'monitoring', 'an update without a status keeps it')
  const handover = await writePost(app, tech, thread.id, { body: 'Handing over.', kind: 'handover', status: 'identified' })
  t.equal(handover.kind, 'handover')
  t.equal((await readThread(app, thread.id)).status, 'identified', 'a handover may set it too')
})

t.test('the promised next update', async (t) => {
  const thread = await openThread(app, tech)
  t.equal(thread.nextUpdateAt, null, 'no promise at first')
  const promise = inFuture(30 * 60_000, now())
  const update = await writePost(app, tech, thread.id, { body: 'Next update in 30 minutes.', nextUpdateAt: promise })
  t.equal(update.nextUpdateAt, promise)
  t.equal((await readThread(app, thread.id)).nextUpdateAt, promise, 'the thread shows the promise')

  await writePost(app, customer, thread.id, { body: 'Thanks' })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, promise, "a customer's comment keeps the promise")

  const later = inFuture(60 * 60_000, now())
  await writePost(app, tech, thread.id, { body: 'New promise.', kind: 'handover', nextUpdateAt: later })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, later, 'a handover makes a new promise')

  await writePost(app, tech, thread.id, { body: 'No promise this time.' })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, null, 'the next update without a promise clears it')

  await writePost(app, tech, thread.id, { body: 'Back soon.', nextUpdateAt: inFuture(60 * 60_000, now()) })
  await writePost(app, tech, thread.id, { body: 'All fixed.', status: 'resolved', nextUpdateAt: inFuture(60 * 60_000, now()) })
  const resolved = await readThread(app, thread.id)
  t.same([resolved.status, resolved.nextUpdateAt], ['resolved', null], 'resolved clears it')
  const resolvingPost = (await readPosts(app, thread.id)).at(-1)!
  t.equal(resolvingPost.nextUpdateAt, null, 'and the resolving update shows no promise either')
  // A post-mortem on the resolved incident, sent with a promise (the form's usual 30 min): no promise, nothing overdue later.
  const postMortem = await writePost(app, tech, thread.id, { body: 'Post-mortem: see the report.', nextUpdateAt: inFuture(30 * 60_000, now()) })
  t.equal(postMortem.nextUpdateAt, null, 'an update on a resolved incident promises nothing')
  t.same([(await readThread(app, thread.id)).status, (await readThread(app, thread.id)).nextUpdateAt], ['resolved', null], 'and the incident stays without a promise')

  const patched = await openThread(app, tech)
  await writePost(app, tech, patched.id, { body: 'Back soon.', nextUpdateAt: inFuture(60 * 60_000, now()) })
  const closed = (await act(app, tech, 'PATCH', `/api/v1/threads/${patched.id}`, { status: 'resolved' })).json()
  t.same([closed.status, closed.nextUpdateAt], ['resolved', null], 'resolving through PATCH clears it too')
})

t.test("staff posts carry the author's shift, customers' comments none", async (t) => {
  const thread = await openThread(app, tech)
  const posts = await readPosts(app, thread.id)
  t.equal(posts[0]?.shift, 'night', "the opening update carries the technician's shift")
  const update = await writePost(app, tech, thread.id, { body: 'Update' })
  const handover = await writePost(app, tech, thread.id, { body: 'Over to you', kind: 'handover' })
  const comment = await writePost(app, customer, thread.id, { body: 'Comment' })
  const staffComment = await writePost(app, tech, thread.id, { body: 'Just a remark', kind: 'comment' })
  t.same([update.shift, handover.shift], ['night', 'night'], "a technician's own shift, whatever the hour")
  t.equal(comment.shift, null, "a customer's comment has none")
  t.equal(staffComment.shift, 'night', "a staff member's comment carries their shift too")
})

t.test('reading posts: in id order, after a post, by kind, a page at a time', async (t) => {
  const thread = await openThread(app, tech)
  const [first] = await readPosts(app, thread.id)
  const update = await writePost(app, tech, thread.id, { body: 'Update' })
  const comment = await writePost(app, customer, thread.id, { body: 'Comment' })
  const handover = await writePost(app, tech, thread.id, { body: 'Handover', kind: 'handover' })
  const reply = await writePost(app, other, thread.id, { body: 'Reply', replyTo: comment.id })
  const ids = (query: string) => readPosts(app, thread.id, null, query).then((posts) => posts.map((p) => p.id))
  t.same(await ids(''), [first!.id, update.id, comment.id, handover.id, reply.id], 'all, in id order')
  t.same(await ids('?kind=update'), [first!.id, update.id, handover.id], 'kind=update: updates and handovers')
  t.same(await ids('?kind=comment'), [comment.id, reply.id], 'kind=comment: comments')
  t.same(await ids(`?after=${update.id}`), [comment.id, handover.id, reply.id], 'after a post')
  t.same(await ids(`?after=${first!.id}&limit=2`), [update.id, comment.id], 'a page of two')
  t.same(await ids(`?after=${reply.id}`), [], 'nothing after the last')
  t.same(await ids('?after=&limit=&kind='), [first!.id, update.id, comment.id, handover.id, reply.id], 'empty values ask for the defaults, as leaving them out does')
  t.equal(reply.replyTo, comment.id)
})

t.test('a locked thread refuses customers and takes staff posts', async (t) => {
  const thread = await openThread(app, tech)
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: true })
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: customer.auth, payload: { body: 'Hello?' } }), 403, 'thread_locked')
  const update = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Update in a locked thread' } })
  assertStatus(t, update, 201, 'a technician still posts updates')
  const modComment = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: moderator.auth, payload: { body: 'Closing remarks', kind: 'comment' } })
  assertStatus(t, modComment, 201, 'staff may still comment')
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: false })
  assertStatus(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: customer.auth, payload: { body: 'Hello again' } }), 201, 'unlocked: customers post again')
})

t.test('slow mode spaces out customer comments', async (t) => {
  const thread = await openThread(app, tech)
  const elsewhere = await openThread(app, tech)
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { slowModeSeconds: 30 })
  const post = (who: typeof customer, threadId = thread.id, body = 'Any news?') =>
    app.inject({ method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: who.auth, payload: { body } })

  assertStatus(t, await post(customer), 201, 'the first comment goes through')
  const second = await post(customer, thread.id, 'Any news now?')
  assertError(t, second, 429, 'slow_mode')
  const retryAfter = Number(second.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 30, `Retry-After is in seconds, within the slow mode (${second.headers['retry-after']})`)
  t.equal((await readPosts(app, thread.id)).filter((p) => p.body === 'Any news now?').length, 0, 'the second comment was not posted')

  assertStatus(t, await post(other), 201, 'another customer is not held back')
  assertStatus(t, await post(customer, elsewhere.id), 201, 'nor is the same customer in another thread')
  assertStatus(t, await post(tech, thread.id, 'Update one'), 201, 'staff are exempt')
  assertStatus(t, await post(tech, thread.id, 'Update two'), 201, 'staff are exempt, twice in a row')

  skip(15_000)
  const halfway = await post(customer, thread.id, 'Still waiting')
  assertError(t, halfway, 429, 'slow_mode')
  t.ok(Number(halfway.headers['retry-after']) <= 15, 'the wait shrinks as time passes')

  skip(16_000)
  assertStatus(t, await post(customer, thread.id, 'Any news now?'), 201, 'after the wait the customer posts again')

  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { slowModeSeconds: 0 })
  assertStatus(t, await post(customer, thread.id, 'Quick one'), 201, 'slow mode off: no wait')
})

t.test('pinning', async (t) => {
  const thread = await openThread(app, tech)
  const other = await openThread(app, tech)
  const [foreign] = await readPosts(app, other.id)
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: foreign!.id } }), 400, 'post_not_in_thread')
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: 999_999 } }), 400, 'post_not_in_thread')
  t.equal((await readThread(app, thread.id)).pinnedPostId, null, 'nothing pinned')

  const state = await writePost(app, tech, thread.id, { body: 'Current state: on generator power.' })
  const pinned = (await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: state.id })).json()
  t.equal(pinned.pinnedPostId, state.id)
  const newer = await writePost(app, tech, thread.id, { body: 'Current state: mains restored.' })
  t.equal((await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: newer.id })).json().pinnedPostId, newer.id, 'a new pin replaces the old')

  await act(app, moderator, 'POST', `/api/v1/posts/${newer.id}/hide`, { reason: 'Premature' })
  t.equal((await readThread(app, thread.id)).pinnedPostId, null, 'hiding the pinned post unpins it')
  await act(app, moderator, 'POST', `/api/v1/posts/${newer.id}/restore`)
  t.equal((await readThread(app, thread.id)).pinnedPostId, null, 'restoring it does not pin it again')
})

t.test('the list shows open incidents before resolved ones', async (t) => {
  const oldOpen = await openThread(app, tech, { title: 'Old but open' })
  skip(60_000)
  const resolved = await openThread(app, tech, { title: 'Resolved' })
  skip(60_000)
  const newOpen = await openThread(app, tech, { title: 'New and open' })
  skip(60_000)
  // The resolved one has the latest activity of all: still, it comes last.
  await writePost(app, tech, resolved.id, { body: 'Fixed.', status: 'resolved' })
  const mine = [oldOpen.id, resolved.id, newOpen.id]
  const listed = async () => ((await app.inject({ url: '/api/v1/threads' })).json().threads as { id: number }[])
    .map((th) => th.id).filter((id) => mine.includes(id))
  t.same(await listed(), [newOpen.id, oldOpen.id, resolved.id], 'open ones first, latest activity first within each group')
  const all = (await app.inject({ url: '/api/v1/threads' })).json().threads as { status: string }[]
  const firstResolved = all.findIndex((th) => th.status === 'resolved')
  t.ok(firstResolved > 0 && all.slice(firstResolved).every((th) => th.status === 'resolved'), 'no open thread after a resolved one')

  skip(60_000)
  await writePost(app, tech, oldOpen.id, { body: 'Still working on it.' })
  t.same(await listed(), [oldOpen.id, newOpen.id, resolved.id], 'a new post brings a thread up')
})

t.test('a new incident may promise its first update', async (t) => {
  const open = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'DNS failing', body: 'Resolvers down.', ...payload } })
  const at = inFuture(20 * 60_000, now())
  const promised = await open({ nextUpdateAt: at })
  assertStatus(t, promised, 201)
  t.equal(promised.json().nextUpdateAt, at, 'the thread carries the promise')
  t.equal((await readPosts(app, promised.json().id))[0]!.nextUpdateAt, at, 'and its first update made it')
  assertStatus(t, await open({ nextUpdateAt: null }), 201, 'null promises nothing')
  assertError(t, await open({ nextUpdateAt: inFuture(-60_000, now()) }), 400, 'invalid_next_update')
  assertError(t, await open({ nextUpdateAt: 'tomorrow' }), 400, 'invalid_next_update')
})
