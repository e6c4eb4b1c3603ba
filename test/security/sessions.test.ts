import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from '../../src/domain/sessions.ts'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { KNOWN_BROWSER_COOKIE } from '../../src/web/routes/pages/auth.ts'
import { PASSWORD, buildTestApp, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { openThread } from '../helpers/api.ts'
import { type Cookies, signIn } from '../helpers/pages.ts'

const HOUR = 60 * 60_000
const DAY = 24 * HOUR

/** Whose session the cookies open, or null. */
async function signedInAs (app: FastifyInstance, cookies: Cookies): Promise<string | null> {
  const res = await app.inject({ url: '/api/v1/me', cookies })
  return res.statusCode === 200 ? res.json().email : null
}

t.test('a session left unused for a day ends; one in use lives on', async (t) => {
  t.equal(SESSION_IDLE_MS, DAY, 'the idle limit is a day')
  const { app, advance } = await buildTestApp(t)
  const user = await makeUser(app, 'technician')
  const kept = await signIn(app, user)
  const forgotten = await signIn(app, user)

  advance(DAY - HOUR)
  t.equal(await signedInAs(app, kept), user.actor.email, 'used after 23 hours: still signed in')
  advance(DAY - HOUR)
  t.equal(await signedInAs(app, kept), user.actor.email, 'each use counts: 23 hours later, still in')
  t.equal(await signedInAs(app, forgotten), null, 'the session left alone for 46 hours is over')

  advance(DAY + 60_000)
  const page = await app.inject({ url: '/', cookies: kept })
  t.match(page.body, /href="\/login\?next=/, 'after a day and a minute unused, the page offers to sign in')
  const cleared = page.cookies.find((c) => c.name === SESSION_COOKIE)
  t.ok(cleared !== undefined && cleared.value === '', 'and the browser is told to drop the cookie')
  t.equal(await signedInAs(app, kept), null)
})

t.test('no session outlives fourteen days, however much it is used', async (t) => {
  t.equal(SESSION_ABSOLUTE_MS, 14 * DAY, 'the absolute limit is fourteen days')
  const { app, advance } = await buildTestApp(t)
  const user = await makeUser(app, 'moderator')
  const cookies = await signIn(app, user)
  for (let elapsed = 12 * HOUR; elapsed < 14 * DAY; elapsed += 12 * HOUR) {
    advance(12 * HOUR)
    if (await signedInAs(app, cookies) === null) t.fail(`signed out after ${elapsed / HOUR} hours of daily use`)
  }
  advance(12 * HOUR + 60_000)
  t.equal(await signedInAs(app, cookies), null, 'fourteen days and a minute after signing in, the session is over')
  const again = await signIn(app, user)
  t.equal(await signedInAs(app, again), user.actor.email, 'signing in again starts a new one')
})

t.test('signing out ends that session only; the same user elsewhere stays signed in', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer')
  const thread = await openThread(app, await makeUser(app, 'technician'))
  const desk = await signIn(app, user)
  const phone = await signIn(app, user)
  const csrf = (await app.inject({ url: '/api/v1/csrf', cookies: desk })).json().token
  const out = await app.inject({ method: 'POST', url: '/logout', cookies: desk, payload: { _csrf: csrf } })
  t.equal(out.statusCode, 303)
  t.equal(await signedInAs(app, desk), null, 'the desk is signed out')
  t.equal(await signedInAs(app, phone), user.actor.email, 'the phone is not')
  const replay = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, cookies: desk, headers: { 'x-csrf-token': csrf }, payload: { body: 'After sign-out' } })
  t.equal(replay.statusCode, 401, 'the signed-out cookie with its old CSRF token cannot post')
  const posts = (await app.inject({ url: `/api/v1/threads/${thread.id}/posts` })).json().posts
  t.equal(posts.length, 1, 'nothing was posted')
})

t.test('behind HTTPS the session cookie is Secure as well as HttpOnly and SameSite', async (t) => {
  const { app } = await buildTestApp(t, { env: { PUBLIC_URL: 'https://status.example.org' } })
  const user = await makeUser(app, 'customer')
  const form = await app.inject({ url: '/login' })
  const csrf = form.cookies.find((c) => c.name === 'sitrep_csrf')!
  t.ok(csrf.secure, 'the CSRF cookie is Secure')
  const login = await app.inject({
    method: 'POST', url: '/login', cookies: { sitrep_csrf: csrf.value },
    payload: { _csrf: csrfFieldOf(form.body), email: user.actor.email, password: PASSWORD }
  })
  t.equal(login.statusCode, 303)
  const session = login.cookies.find((c) => c.name === SESSION_COOKIE)!
  t.same([session.secure, session.httpOnly, session.sameSite, session.path], [true, true, 'Lax', '/'])
  t.equal(session.maxAge, SESSION_ABSOLUTE_MS / 1000, 'the browser keeps it no longer than the server does')
  const known = login.cookies.find((c) => c.name === KNOWN_BROWSER_COOKIE)
  t.same([known?.secure, known?.httpOnly], [true, true], 'so is the cookie that remembers the browser')
})
