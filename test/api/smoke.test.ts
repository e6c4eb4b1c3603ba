import t from 'tap'
import { buildTestApp, makeUser } from '../helpers/app.ts'

t.test('a technician opens a thread and a customer comments', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { shift: 'night' })
  const customer = await makeUser(app, 'customer')
  const created = await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Fire in DC2', body: 'Smoke detected in room 3.' } })
  t.equal(created.statusCode, 201, created.body)
  const thread = created.json()
  t.equal(thread.status, 'investigating')
  const comment = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: customer.auth, payload: { body: 'Is my server safe?' } })
  t.equal(comment.statusCode, 201, comment.body)
  t.equal(comment.json().kind, 'comment')
  const posts = await app.inject({ url: `/api/v1/threads/${thread.id}/posts` })
  t.same(posts.json().posts.map((p: { kind: string, shift: string | null }) => [p.kind, p.shift]), [['update', 'night'], ['comment', null]])
})

t.test('threads and posts have the shape of the contract', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { shift: 'day' })
  const created = await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Flood in basement', body: 'Water in the UPS room.' } })
  const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
  const thread = (await app.inject({ url: `/api/v1/threads/${created.json().id}` })).json()
  t.match(thread, {
    id: Number, title: 'Flood in basement', status: 'investigating', locked: false, pinnedPostId: null,
    nextUpdateAt: null, lastPostAt: isoUtc, postCount: 1, createdAt: isoUtc
  })
  const listed = (await app.inject({ url: '/api/v1/threads' })).json()
  t.same(listed.threads, [thread], 'the list shows the same thread')
  const [post] = (await app.inject({ url: `/api/v1/threads/${thread.id}/posts` })).json().posts
  t.match(post, {
    id: Number, threadId: thread.id, kind: 'update', body: 'Water in the UPS room.', html: '<p>Water in the UPS room.</p>',
    author: { id: tech.actor.id, name: tech.actor.name, role: 'technician' },
    shift: 'day', replyTo: null, createdAt: isoUtc, editedAt: null, hidden: false
  })
  t.same((await app.inject({ url: `/api/v1/posts/${post.id}` })).json(), post, 'GET /posts/:id shows the same post')
})
