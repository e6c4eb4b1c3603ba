import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { type Cookies, apiAs, signIn } from '../helpers/pages.ts'
import { waitUntil } from '../helpers/server.ts'

// Signed-in readers reload the thread like everyone else: their page is kept
// for them, compressed, until the thread's next event.

const renders: string[] = []
const { app } = await buildTestApp(t, { pageCache: { onRender: (key) => renders.push(key) } })
const tech = await makeUser(app, 'technician')
const alice = await makeUser(app, 'customer', { name: 'Alice Martin' })
const bob = await makeUser(app, 'customer', { name: 'Bob Leroy' })
const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail down', body: 'The mail relay is down.' })
const fromAlice = await apiAs<Post>(app, alice, 'POST', `/threads/${thread.id}/posts`, { body: 'No mail since noon here.' })

const BR = { 'accept-encoding': 'br, gzip' }
const personalRenders = () => renders.filter((key) => key.startsWith('personal|')).length

async function page (cookies: Cookies, headers: Record<string, string> = BR) {
  const res = await app.inject({ url: `/t/${thread.id}`, cookies, headers })
  t.equal(res.statusCode, 200)
  const encoding = res.headers['content-encoding']
  const html = encoding === 'br' ? brotliDecompressSync(res.rawPayload).toString() : encoding === 'gzip' ? gunzipSync(res.rawPayload).toString() : res.body
  return { res, html }
}
const editLink = (post: Post) => `href="/posts/${post.id}/edit"`
/** Whose name the page's header says is signed in; undefined when nobody is. */
const signedInAs = (html: string) => /class="site-nav__user"><bdi>([^<]+)<\/bdi> </.exec(html)?.[1]

t.test("a signed-in reader's reloads come from memory, compressed, and private", async (t) => {
  const cookies = await signIn(app, alice)
  const before = personalRenders()
  const first = await page(cookies)
  const again = await page(cookies)
  t.equal(personalRenders(), before + 1, 'rendered once for two loads')
  t.equal(again.res.headers['content-encoding'], 'br')
  t.equal(again.res.headers['cache-control'], 'private, no-store', 'never kept by a shared cache')
  t.notOk(again.res.headers.etag)
  t.ok(again.res.rawPayload.length < Buffer.byteLength(again.html) / 3, 'a fraction of the page on the wire')
  t.equal(again.html, first.html)
  t.equal(signedInAs(again.html), 'Alice Martin')
  t.match(again.html, editLink(fromAlice), 'her own post has its edit link')

  const plain = await page(cookies, {})
  t.equal(plain.res.headers['content-encoding'], undefined, 'a browser that takes no compression gets the page as is')
  t.match(plain.html, editLink(fromAlice))
  const gzipped = await page(cookies, { 'accept-encoding': 'gzip' })
  t.equal(gzipped.res.headers['content-encoding'], 'gzip')
  t.equal(signedInAs(gzipped.html), 'Alice Martin')
})

t.test('the token in a page from memory works for its forms', async (t) => {
  const cookies = await signIn(app, bob)
  await page(cookies)
  const { html } = await page(cookies)
  const res = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies, payload: { _csrf: csrfFieldOf(html), body: 'Same here since 12:05.' } })
  t.equal(res.statusCode, 303, 'the comment is accepted')
  const after = await page(cookies)
  t.match(after.html, /Same here since 12:05\./, 'and the next load shows it: the event dropped the kept page')
})

t.test('nobody gets someone else\'s page, in the same browser either', async (t) => {
  const alices = await signIn(app, alice)
  await page(alices)
  const { html: aliceHtml } = await page(alices)
  t.match(aliceHtml, editLink(fromAlice))

  // Bob signs in on Alice's browser: the same CSRF cookie, his own session.
  const logout = await app.inject({ method: 'POST', url: '/logout', cookies: alices, payload: { _csrf: csrfFieldOf(aliceHtml) } })
  t.equal(logout.statusCode, 303)
  const bobs = { ...(await signIn(app, bob)), sitrep_csrf: alices.sitrep_csrf! }
  const { html: bobHtml } = await page(bobs)
  t.equal(signedInAs(bobHtml), 'Bob Leroy')
  t.notMatch(bobHtml, editLink(fromAlice), 'no edit link on a post that is not his')
  const signedOut = await page({ sitrep_csrf: alices.sitrep_csrf! })
  t.equal(signedInAs(signedOut.html), undefined, 'signed out, the page is nobody\'s')
})

t.test('a reader renamed sees their new name as soon as the database announces the change', async (t) => {
  const cookies = await signIn(app, alice)
  await page(cookies)
  // Straight in the database, as another instance or an operator would: the
  // app's clock stands still, so only the announcement can bring the new name.
  await app.db.updateTable('users').set({ name: 'Alice Dupont' }).where('id', '=', alice.actor.id).execute()
  await waitUntil('the new name on the page', async () => signedInAs((await page(cookies)).html) === 'Alice Dupont')
  t.equal(signedInAs((await page(cookies)).html), 'Alice Dupont')
})
