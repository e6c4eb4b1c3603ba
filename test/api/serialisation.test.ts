import t from 'tap'
import { getPost } from '../../src/domain/posts.ts'
import { getThread } from '../../src/domain/threads.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs } from '../helpers/pages.ts'

t.test('the schema-serialised answers carry every field of the domain, and no hidden text', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const moderator = await makeUser(app, 'moderator')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  await apiAs(app, tech, 'PATCH', `/threads/${thread.id}`, { cadenceMinutes: 30 })
  const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Handing over.', kind: 'handover' })
  const comment = await apiAs<Post>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Is mail down too?' })
  await apiAs(app, moderator, 'POST', `/posts/${comment.id}/hide`, { reason: 'off topic' })

  t.same(await apiAs(app, customer, 'GET', `/threads/${thread.id}`), JSON.parse(JSON.stringify(await getThread(app.db, thread.id))))
  const { threads } = await apiAs<{ threads: Thread[] }>(app, customer, 'GET', '/threads')
  t.same(threads[0], JSON.parse(JSON.stringify(await getThread(app.db, thread.id))))
  t.same(await apiAs(app, customer, 'GET', `/posts/${update.id}`), JSON.parse(JSON.stringify(await getPost(app.db, update.id, customer.actor))))
  const { posts } = await apiAs<{ posts: Post[] }>(app, customer, 'GET', `/threads/${thread.id}/posts`)
  const hidden = posts.find((post) => post.id === comment.id)!
  t.equal(hidden.hidden, true)
  t.notOk('body' in hidden || 'html' in hidden, 'a hidden post has no text for a reader')
  t.equal(posts.find((post) => post.id === update.id)!.handoverTo !== undefined, true, 'handoverTo is kept')
})
