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
