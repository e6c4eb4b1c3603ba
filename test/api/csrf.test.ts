import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { PASSWORD, buildTestApp, cookieFrom, csrfFieldOf, makeUser, type TestUser } from '../helpers/app.ts'
import { assertError, assertStatus, openThread, readPosts } from '../helpers/api.ts'

interface Browser { cookies: Record<string, string>, csrf: string }

/** Keeps the cookies an answer sets, as a browser would. */
function keepCookies (cookies: Record<string, string>, res: LightMyRequestResponse): void {
  for (const c of res.cookies) cookies[c.name] = c.value
}

/** Signs in through the form, then asks the API for the token the page's script would use. */
async function signIn (app: FastifyInstance, user: TestUser): Promise<Browser> {
  const form = await app.inject({ url: '/login' })
  const cookies: Record<string, string> = {}
  keepCookies(cookies, form)
  const login = await app.inject({
    method: 'POST', url: '/login', cookies,
    payload: { _csrf: csrfFieldOf(form.body), email: user.actor.email, password: PASSWORD }
  })
  if (login.statusCode !== 303) throw new Error(`sign-in failed: ${login.statusCode} ${login.body}`)
  keepCookies(cookies, login)
  if (cookieFrom(login, SESSION_COOKIE) === undefined) throw new Error('no session cookie')
  const res = await app.inject({ url: '/api/v1/csrf', cookies })
  keepCookies(cookies, res)
  return { cookies, csrf: res.json().token }
}

const { app } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const alice = await makeUser(app, 'customer', { name: 'Alice' })
const mallory = await makeUser(app, 'customer', { name: 'Mallory' })
const thread = await openThread(app, tech)
const postsUrl = `/api/v1/threads/${thread.id}/posts`
const aliceBrowser = await signIn(app, alice)
const malloryBrowser = await signIn(app, mallory)

const countPosts = async () => (await readPosts(app, thread.id)).length

t.test('the session cookie without x-csrf-token is refused', async (t) => {
  const before = await countPosts()
  const res = await app.inject({ method: 'POST', url: postsUrl, cookies: aliceBrowser.cookies, payload: { body: 'Hello?' } })
  assertError(t, res, 403, 'csrf')
  t.match(res.json().error.message, /send the x-csrf-token header \(GET \/api\/v1\/csrf gives one\)/, 'the script is told what to send, not that a form expired')
  const french = await app.inject({ method: 'POST', url: postsUrl, cookies: aliceBrowser.cookies, headers: { 'accept-language': 'fr' }, payload: { body: 'Hello?' } })
  t.match(french.json().error.message, /envoyez l’en-tête x-csrf-token/)
  t.equal(await countPosts(), before, 'nothing was posted')
})

t.test('a made-up token is refused', async (t) => {
  const res = await app.inject({ method: 'POST', url: postsUrl, cookies: aliceBrowser.cookies, headers: { 'x-csrf-token': 'not-a-token' }, payload: { body: 'Hello?' } })
  assertError(t, res, 403, 'csrf')
})

t.test("another user's token is refused", async (t) => {
  const before = await countPosts()
  const res = await app.inject({ method: 'POST', url: postsUrl, cookies: aliceBrowser.cookies, headers: { 'x-csrf-token': malloryBrowser.csrf }, payload: { body: 'Sent by Mallory' } })
  assertError(t, res, 403, 'csrf')
  // Mallory plants her whole pair, cookie and token, next to Alice's session.
  const planted = { ...aliceBrowser.cookies, sitrep_csrf: malloryBrowser.cookies.sitrep_csrf! }
  const res2 = await app.inject({ method: 'POST', url: postsUrl, cookies: planted, headers: { 'x-csrf-token': malloryBrowser.csrf }, payload: { body: 'Sent by Mallory' } })
  assertError(t, res2, 403, 'csrf')
  t.equal(await countPosts(), before, 'nothing was posted')
})

t.test('a token taken before signing in is refused after', async (t) => {
  const anonymous = await app.inject({ url: '/api/v1/csrf', cookies: { sitrep_csrf: aliceBrowser.cookies.sitrep_csrf! } })
  assertStatus(t, anonymous, 200)
  const res = await app.inject({ method: 'POST', url: postsUrl, cookies: aliceBrowser.cookies, headers: { 'x-csrf-token': anonymous.json().token }, payload: { body: 'Hello?' } })
  assertError(t, res, 403, 'csrf')
})

t.test('its own token is accepted', async (t) => {
  const res = await app.inject({ method: 'POST', url: postsUrl, cookies: aliceBrowser.cookies, headers: { 'x-csrf-token': aliceBrowser.csrf }, payload: { body: 'Is the VPN affected?' } })
  assertStatus(t, res, 201)
  t.equal(res.json().author.id, alice.actor.id, 'posted as the signed-in user')
  t.equal(res.json().body, 'Is the VPN affected?')
  const edit = await app.inject({ method: 'PATCH', url: `/api/v1/posts/${res.json().id}`, cookies: aliceBrowser.cookies, payload: { body: 'Is the VPN down?' } })
  assertError(t, edit, 403, 'csrf')
  const edited = await app.inject({ method: 'PATCH', url: `/api/v1/posts/${res.json().id}`, cookies: aliceBrowser.cookies, headers: { 'x-csrf-token': aliceBrowser.csrf }, payload: { body: 'Is the VPN down?' } })
  assertStatus(t, edited, 200)
  t.equal(edited.json().body, 'Is the VPN down?')
})

t.test('reads with the session cookie need no token', async (t) => {
  const res = await app.inject({ url: postsUrl, cookies: aliceBrowser.cookies })
  assertStatus(t, res, 200)
  const me = await app.inject({ url: '/api/v1/me', cookies: aliceBrowser.cookies })
  t.equal(me.json().email, alice.actor.email)
})

t.test('Bearer calls need no CSRF token', async (t) => {
  const res = await app.inject({ method: 'POST', url: postsUrl, headers: alice.auth, payload: { body: 'From a script' } })
  assertStatus(t, res, 201)
  t.equal(res.json().author.id, alice.actor.id)
  // The token decides who is calling, whatever cookie rides along.
  const both = await app.inject({ method: 'POST', url: postsUrl, headers: mallory.auth, cookies: aliceBrowser.cookies, payload: { body: 'From another script' } })
  assertStatus(t, both, 201)
  t.equal(both.json().author.id, mallory.actor.id)
})
