import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { ACCOUNT_CHECKS_AT_ONCE, ACCOUNT_FAILURES_MAX } from '../../src/domain/login-attempts.ts'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { KNOWN_BROWSER_COOKIE } from '../../src/web/routes/pages/auth.ts'
import { PASSWORD, buildTestApp, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'
import type { Cookies } from '../helpers/pages.ts'

// Two addresses of the same length: the form echoes what was typed, and nothing else may differ.
const KNOWN = 'ops.lead@example.org'
const UNKNOWN = 'ops.lena@example.org'

interface LoginForm { cookies: Cookies, csrf: string }

async function loginForm (app: FastifyInstance, cookies: Cookies = {}): Promise<LoginForm> {
  const page = await app.inject({ url: '/login', cookies })
  const csrfCookie = cookieFrom(page, 'sitrep_csrf') ?? cookies.sitrep_csrf
  if (csrfCookie === undefined) throw new Error('no CSRF cookie')
  return { cookies: { ...cookies, sitrep_csrf: csrfCookie }, csrf: csrfFieldOf(page.body) }
}

const signInForm = (app: FastifyInstance, form: LoginForm, email: string, password: string, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/login', remoteAddress, cookies: form.cookies, payload: { _csrf: form.csrf, email, password } })

const askToken = (app: FastifyInstance, email: string, password: string, remoteAddress = '127.0.0.1', cookies: Cookies = {}) =>
  app.inject({ method: 'POST', url: '/api/v1/tokens', remoteAddress, cookies, payload: { email, password } })

/**
 * Everything of an answer but the clock's readings (Date, and the seconds left
 * in the address's rate window), with the typed address and the per-answer
 * CSRF token made neutral.
 */
function seen (res: LightMyRequestResponse, email: string) {
  const { date: _date, 'x-ratelimit-reset': _reset, ...headers } = res.headers
  const body = res.body.replaceAll(email, '<email>').replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value="<token>"')
  return { status: res.statusCode, headers, body }
}

function assertSameAnswer (t: Test, a: LightMyRequestResponse, b: LightMyRequestResponse, emails: [string, string]) {
  const [one, two] = [seen(a, emails[0]), seen(b, emails[1])]
  t.equal(one.status, two.status, 'the same status')
  t.same(one.headers, two.headers, 'the same headers, the clock aside')
  t.equal(one.body, two.body, 'the same body')
}

t.test('a wrong password and an unknown account get the same answer, headers and all', async (t) => {
  const { app } = await buildTestApp(t)
  await makeUser(app, 'technician', { email: KNOWN })
  const form = await loginForm(app)
  // From two addresses, so the per-address counters in the headers stand at the same number.
  const wrong = await signInForm(app, form, KNOWN, 'not the password', '198.51.100.1')
  const unknown = await signInForm(app, form, UNKNOWN, 'not the password', '198.51.100.2')
  t.equal(wrong.statusCode, 401)
  t.match(wrong.body, /Wrong e-mail address or password\./)
  t.equal(cookieFrom(wrong, SESSION_COOKIE), undefined, 'no session either way')
  assertSameAnswer(t, wrong, unknown, [KNOWN, UNKNOWN])

  const wrongUpper = await signInForm(app, form, KNOWN.toUpperCase(), 'not the password', '198.51.100.3')
  const unknownUpper = await signInForm(app, form, UNKNOWN.toUpperCase(), 'not the password', '198.51.100.4')
  assertSameAnswer(t, wrongUpper, unknownUpper, [KNOWN.toUpperCase(), UNKNOWN.toUpperCase()])

  const apiWrong = await askToken(app, KNOWN, 'not the password', '198.51.100.5')
  const apiUnknown = await askToken(app, UNKNOWN, 'not the password', '198.51.100.6')
  t.equal(apiWrong.statusCode, 401)
  assertSameAnswer(t, apiWrong, apiUnknown, [KNOWN, UNKNOWN])
})

t.test('an unknown account is limited exactly like a real one, so the limit tells nothing either', async (t) => {
  // A clock that stands still: both waits are then the same to the second.
  const at = new Date()
  const { app } = await buildTestApp(t, { now: () => at })
  await makeUser(app, 'customer', { email: KNOWN })
  const form = await loginForm(app)
  const hammer = async (email: string, address: string) => {
    for (let i = 0; i < 10; i++) await signInForm(app, form, email, `guess ${i}`, address)
    return await signInForm(app, form, email, PASSWORD, address)
  }
  const real = await hammer(KNOWN, '203.0.113.1')
  const fake = await hammer(UNKNOWN, '203.0.113.2')
  t.equal(real.statusCode, 429, 'the real account waits after ten failures')
  assertSameAnswer(t, real, fake, [KNOWN, UNKNOWN])

  const apiReal = await askToken(app, KNOWN, PASSWORD, '203.0.113.1')
  const apiFake = await askToken(app, UNKNOWN, PASSWORD, '203.0.113.2')
  t.equal(apiReal.statusCode, 429, 'the API shares the count')
  t.same(apiReal.json(), apiFake.json())
  t.equal(apiReal.headers['retry-after'], apiFake.headers['retry-after'])
})

t.test('one address trying many accounts is stopped, with Retry-After; other addresses are not', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer')
  const form = await loginForm(app)
  for (let i = 0; i < 20; i++) {
    t.equal((await signInForm(app, form, `someone${i}@example.org`, 'password1', '192.0.2.66')).statusCode, 401, `try ${i + 1}: refused as wrong`)
  }
  const page = await signInForm(app, form, user.actor.email, PASSWORD, '192.0.2.66')
  t.equal(page.statusCode, 429, 'the 21st in a minute waits, right password or not')
  const wait = Number(page.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 60, `Retry-After: ${wait}`)
  t.match(page.body, new RegExp(`Too many attempts\\. Try again in ${wait} s\\.`), 'the page says how long, in seconds')
  t.equal((await signInForm(app, form, user.actor.email, PASSWORD, '192.0.2.67')).statusCode, 303, 'another address signs in')

  for (let i = 0; i < 10; i++) await askToken(app, `someone${i}@example.org`, 'password1', '192.0.2.99')
  const api = await askToken(app, user.actor.email, PASSWORD, '192.0.2.99')
  t.equal(api.statusCode, 429, 'the API allows ten a minute per address')
  t.same(api.json().error.code, 'rate_limited')
  t.ok(Number(api.headers['retry-after']) >= 1, 'with Retry-After')
  t.equal((await askToken(app, user.actor.email, PASSWORD, '192.0.2.100')).statusCode, 201, 'another address gets its token')
})

t.test('guesses spread over many addresses: the account waits, but not in a browser it signed in from', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const attacker = await makeUser(app, 'customer')
  const homeForm = await loginForm(app)
  const home = await signInForm(app, homeForm, tech.actor.email, PASSWORD, '198.51.100.10')
  t.equal(home.statusCode, 303)
  const known = cookieFrom(home, KNOWN_BROWSER_COOKIE)
  t.ok(known, 'the browser is remembered for this account')
  t.notMatch(String(known), /example\.org/, 'without the address in clear')

  // A botnet: each address stays under its own limits.
  const form = await loginForm(app)
  for (let i = 0; i < ACCOUNT_FAILURES_MAX; i++) {
    const res = await signInForm(app, form, tech.actor.email, `guess ${i}`, `10.1.${Math.floor(i / 200)}.${i % 200}`)
    if (res.statusCode !== 401) t.fail(`guess ${i} answered ${res.statusCode}`)
  }
  const fromNowhere = await signInForm(app, form, tech.actor.email, PASSWORD, '10.9.9.9')
  t.equal(fromNowhere.statusCode, 429, 'a new browser waits, even with the right password')
  const wait = Number(fromNowhere.headers['retry-after'])
  t.ok(wait > 120, `with Retry-After (${wait} s)`)
  t.match(fromNowhere.body, new RegExp(`Too many attempts\\. Try again in ${Math.ceil(wait / 60)} min\\.`), 'a wait of minutes is said in minutes')
  const french = await app.inject({ method: 'POST', url: '/login', remoteAddress: '10.9.9.8', cookies: form.cookies, headers: { 'accept-language': 'fr' }, payload: { _csrf: form.csrf, email: tech.actor.email, password: PASSWORD } })
  t.match(french.body, /Trop de tentatives\. Réessayez dans \d+\u00a0min\./, 'in French too')
  t.equal((await askToken(app, tech.actor.email, PASSWORD, '10.9.9.10')).statusCode, 429, 'so does a script asking for a token')

  const knownBrowser = await loginForm(app, { [KNOWN_BROWSER_COOKIE]: known! })
  t.equal((await signInForm(app, knownBrowser, tech.actor.email, PASSWORD, '172.16.0.5')).statusCode, 303,
    'the technician, in their own browser, from yet another address, gets in')

  const attackerLogin = await signInForm(app, await loginForm(app), attacker.actor.email, PASSWORD, '10.9.9.11')
  const attackerMark = cookieFrom(attackerLogin, KNOWN_BROWSER_COOKIE)!
  const borrowed = await loginForm(app, { [KNOWN_BROWSER_COOKIE]: attackerMark })
  t.equal((await signInForm(app, borrowed, tech.actor.email, PASSWORD, '10.9.9.12')).statusCode, 429, "the attacker's own remembered browser does not count for the technician")
  const forged = await loginForm(app, { [KNOWN_BROWSER_COOKIE]: String(known).split('.')[0]! })
  t.equal((await signInForm(app, forged, tech.actor.email, PASSWORD, '10.9.9.13')).statusCode, 429, 'nor does an unsigned copy of the mark')

  advance(15 * 60_000)
  t.equal((await signInForm(app, form, tech.actor.email, PASSWORD, '10.9.9.14')).statusCode, 303, 'the wait ends by itself')
})

t.test('a flood aimed at one account: a couple of guesses are checked at a time, the rest refused at once; its owner is never', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const home = await signInForm(app, await loginForm(app), tech.actor.email, PASSWORD, '198.51.100.20')
  t.equal(home.statusCode, 303)
  const known = cookieFrom(home, KNOWN_BROWSER_COOKIE)

  // Twelve guesses at once, each from an address of its own, under every per-address limit.
  const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    askToken(app, tech.actor.email, `guess ${i}`, `10.2.0.${i + 1}`)))
  const statuses = guesses.map((res) => res.statusCode)
  t.equal(statuses.filter((s) => s === 401).length, ACCOUNT_CHECKS_AT_ONCE, `${ACCOUNT_CHECKS_AT_ONCE} checked and found wrong`)
  t.equal(statuses.filter((s) => s === 429).length, 12 - ACCOUNT_CHECKS_AT_ONCE, 'the others refused before hashing')
  const refused = guesses.find((res) => res.statusCode === 429)!
  t.equal(refused.json().error.code, 'rate_limited')
  t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After')

  t.equal((await askToken(app, tech.actor.email, 'one more guess', '10.2.0.99')).statusCode, 401, 'once they are answered, the next guess is checked')

  // The owner, in the middle of the next flood, from their own browser.
  const [owner, ...flood] = await Promise.all([
    askToken(app, tech.actor.email, PASSWORD, '172.16.0.20', { [KNOWN_BROWSER_COOKIE]: known! }),
    ...Array.from({ length: 6 }, (_, i) => askToken(app, tech.actor.email, `guess ${i}`, `10.3.0.${i + 1}`))
  ])
  t.ok(flood.some((res) => res.statusCode === 429), 'the flood is refused')
  t.equal(owner!.statusCode, 201, 'the owner gets their token')

  // The sign-in form shares the count, and says so in the reader's language.
  const form = await loginForm(app)
  const forms = await Promise.all(Array.from({ length: 4 }, (_, i) =>
    app.inject({ method: 'POST', url: '/login', remoteAddress: `10.4.0.${i + 1}`, cookies: form.cookies, headers: { 'accept-language': 'fr' }, payload: { _csrf: form.csrf, email: tech.actor.email, password: `guess ${i}` } })))
  const waiting = forms.find((res) => res.statusCode === 429)
  t.ok(waiting, 'a form sent in the same flood waits')
  t.match(waiting!.body, /Trop de tentatives\. Réessayez dans 1\u00a0s\./)
})
