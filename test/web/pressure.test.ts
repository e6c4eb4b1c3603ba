import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs, signIn, submitForm } from '../helpers/pages.ts'

t.test('under pressure, anonymous renders and new sockets are shed; cached pages and staff go on', async (t) => {
  let pressed = false
  const { app } = await buildTestApp(t, { pressure: { force: () => pressed } })
  const tech = await makeUser(app, 'technician')
  const moderator = await makeUser(app, 'moderator')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  const cached = await app.inject({ url: `/t/${thread.id}` })
  t.equal(cached.statusCode, 200)
  // Read once in French by a reader with the cookie: that page is cached too.
  t.equal((await app.inject({ url: `/t/${thread.id}`, cookies: { sitrep_lang: 'fr' } })).statusCode, 200)
  const cookies = await signIn(app, tech)

  pressed = true
  const again = await app.inject({ url: `/t/${thread.id}` })
  t.equal(again.statusCode, 200, 'a cached page is still served')
  t.equal(again.headers.etag, cached.headers.etag)

  const miss = await app.inject({ url: `/t/${thread.id}?view=official` })
  t.equal(miss.statusCode, 503, 'a page not in the cache is not rendered')
  t.equal(miss.headers['retry-after'], '5')
  t.match(miss.body, /Too many people at once/, 'the error page says why')
  t.notOk(miss.headers['set-cookie'])
  const paged = await app.inject({ url: `/t/${thread.id}?after=1` })
  t.equal(paged.statusCode, 503, 'nor a paged view')
  const shared = await app.inject({ url: `/t/${thread.id}?utm_source=news&fbclid=abc` })
  t.equal(shared.statusCode, 200, 'a shared link with tracking keys gets the cached page')
  t.equal(shared.headers.etag, cached.headers.etag)
  const french = await app.inject({ url: `/t/${thread.id}?lang=fr` })
  t.equal(french.statusCode, 200, 'a reader choosing French gets the cached French page, not an error')
  t.match(french.body, /<html lang="fr">/)
  t.not(french.headers.etag, cached.headers.etag)
  const english = await app.inject({ url: `/t/${thread.id}` })
  t.equal(english.headers.etag, cached.headers.etag, 'and the address without the choice stays in its reader\'s language')

  const socket = await app.inject({ url: `/api/v1/threads/${thread.id}/live` })
  t.equal(socket.statusCode, 503, 'a new live socket waits')
  t.same(socket.json(), { error: { code: 'overloaded', message: 'The server is too busy. Try again in a moment.' } })
  t.equal(socket.headers['retry-after'], '5')
  const asked = await app.inject({ url: `/api/v1/threads/${thread.id}` })
  t.equal(asked.statusCode, 503, 'nor is an anonymous page asking the API for news (no socket got through) answered')
  t.equal(asked.headers['retry-after'], '5')
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}/posts?kind=update&limit=1&after=0` })).statusCode, 503, 'nor an official-only page asking for updates')
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}`, headers: tech.auth })).statusCode, 200, 'staff and scripts with a token are')

  const post = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Spare switch in.' } })
  t.equal(post.statusCode, 201, "a technician's update goes through")
  await apiAs(app, moderator, 'PUT', `/threads/${thread.id}/pin`, { postId: post.json().id })
  const form = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'From the form.', kind: 'update', next: 'none' })
  t.equal(form.statusCode, 303, 'the staff page renders and its form posts')

  const afterPost = await app.inject({ url: `/t/${thread.id}` })
  t.equal(afterPost.statusCode, 200, 'a page an event made old is still served at once, rather than an error')
  t.equal(afterPost.headers.etag, cached.headers.etag, 'as it was')
  // Meanwhile it is rendered again, once, so the crowd catches up with the news without waiting for calm.
  let caughtUp = afterPost
  for (let i = 0; i < 100 && !caughtUp.body.includes('From the form.'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    caughtUp = await app.inject({ url: `/t/${thread.id}` })
  }
  t.equal(caughtUp.statusCode, 200)
  t.match(caughtUp.body, /From the form\./, 'still under pressure, the page shows the new update')

  pressed = false
  const calm = await app.inject({ url: `/t/${thread.id}` })
  t.equal(calm.statusCode, 200)
  t.match(calm.body, /From the form\./)
})
