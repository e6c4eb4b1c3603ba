import t from 'tap'
import { createLimiter } from '../../src/domain/limiter.ts'
import { AppError } from '../../src/domain/errors.ts'
import { networkOf } from '../../src/web/networks.ts'
import { PASSWORD, buildTestApp, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'

t.test('ten failed sign-ins to one account from one address: the next waits, from elsewhere it works', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  // The sign-in form allows 20 a minute per address, enough to reach the per-account limit.
  const page = await app.inject({ url: '/login' })
  const csrf = { cookie: cookieFrom(page, 'sitrep_csrf')!, field: csrfFieldOf(page.body) }
  const attempt = (password: string, remoteAddress = '203.0.113.7') =>
    app.inject({ method: 'POST', url: '/login', remoteAddress, cookies: { sitrep_csrf: csrf.cookie }, payload: { _csrf: csrf.field, email: tech.actor.email, password } })
  for (let i = 0; i < 10; i++) t.equal((await attempt('wrong password')).statusCode, 401)
  t.equal((await attempt('wrong password', '198.51.100.9')).statusCode, 401, 'another address counts apart')
  const refused = await attempt(PASSWORD, '203.0.113.7')
  t.equal(refused.statusCode, 429, 'refused before hashing, even with the right password')
  t.match(refused.body, /Too many attempts/)
  t.ok(Number(refused.headers['retry-after']) > 0 && Number(refused.headers['retry-after']) <= 900)
  t.equal((await attempt(PASSWORD, '198.51.100.9')).statusCode, 303, 'no lockout: the technician signs in from their own address')
  advance(15 * 60_000)
  t.equal((await attempt(PASSWORD, '203.0.113.7')).statusCode, 303, 'and the window ends by itself')
})

t.test('an IPv6 client counts by its /64: changing the address within it starts no new count', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const page = await app.inject({ url: '/login' })
  const csrf = { cookie: cookieFrom(page, 'sitrep_csrf')!, field: csrfFieldOf(page.body) }
  const attempt = (password: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/login', remoteAddress, cookies: { sitrep_csrf: csrf.cookie }, payload: { _csrf: csrf.field, email: tech.actor.email, password } })
  for (let i = 1; i <= 10; i++) t.equal((await attempt('wrong password', `2001:db8:5:6::${i.toString(16)}`)).statusCode, 401)
  const refused = await attempt(PASSWORD, '2001:db8:5:6:ffff:1:2:3')
  t.equal(refused.statusCode, 429, 'ten guesses from ten addresses of one /64 lock that /64 out of the account')
  t.match(refused.body, /Too many attempts/)
  t.equal((await attempt(PASSWORD, '2001:db8:5:7::1')).statusCode, 303, 'the next /64 is another client: the technician signs in')

  for (let i = 1; i <= 10; i++) t.equal((await attempt('wrong password', '203.0.113.20')).statusCode, 401)
  t.equal((await attempt(PASSWORD, '::ffff:203.0.113.20')).statusCode, 429, 'an IPv4 address written as IPv6 is the same client')
})

t.test('networks as the limits count them', async (t) => {
  t.equal(networkOf('203.0.113.7'), '203.0.113.7')
  t.equal(networkOf('::ffff:203.0.113.7'), '203.0.113.7')
  t.equal(networkOf('2001:db8:5:6::1'), '2001:db8:5:6::/64')
  t.equal(networkOf('2001:0db8:0005:0006:ffff:1:2:3'), '2001:db8:5:6::/64', 'however it is written')
  t.not(networkOf('2001:db8:5:7::1'), networkOf('2001:db8:5:6::1'))
  t.equal(networkOf('::1'), '::/64')
})

t.test('behind a proxy named in TRUST_PROXY, each client it forwards has its own limits; a client cannot claim another address', async (t) => {
  const forwarded = async (trustProxy: string | undefined) => {
    const { app } = await buildTestApp(t, { env: trustProxy === undefined ? {} : { TRUST_PROXY: trustProxy } })
    const page = await app.inject({ url: '/login' })
    const csrf = { cookie: cookieFrom(page, 'sitrep_csrf')!, field: csrfFieldOf(page.body) }
    // Every request comes from the proxy's address; the client's is in X-Forwarded-For.
    let attempts = 0
    // Each attempt names another account: only the per-address limit counts here.
    return (client: string) => app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': client },
      cookies: { sitrep_csrf: csrf.cookie },
      payload: { _csrf: csrf.field, email: `nobody${++attempts}@example.org`, password: 'wrong password' }
    })
  }
  // The sign-in form allows 20 a minute per address.
  const behindProxy = await forwarded('10.0.0.0/24')
  for (let i = 0; i < 20; i++) t.equal((await behindProxy('203.0.113.7')).statusCode, 401)
  t.equal((await behindProxy('203.0.113.7')).statusCode, 429, 'the 21st attempt of one client waits')
  t.equal((await behindProxy('198.51.100.9')).statusCode, 401, 'another client behind the same proxy does not')

  const direct = await forwarded(undefined)
  for (let i = 0; i < 20; i++) t.equal((await direct(`203.0.113.${i}`)).statusCode, 401)
  t.equal((await direct('198.51.100.9')).statusCode, 429, 'without TRUST_PROXY, X-Forwarded-For is not believed: one address, one limit')
})

t.test('password hashing runs two at a time, with a bounded queue', async (t) => {
  const limiter = createLimiter(2, 3)
  const gates: Array<() => void> = []
  const task = () => new Promise<void>((resolve) => gates.push(resolve))
  const running = Array.from({ length: 5 }, () => limiter.run(task))
  t.equal(limiter.active, 2)
  t.equal(limiter.queued, 3)
  const refused = await limiter.run(task).then(() => null, (err: unknown) => err)
  t.ok(refused instanceof AppError && refused.statusCode === 503 && refused.retryAfter !== undefined, 'the sixth is refused with 503 and Retry-After')
  gates.shift()!()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(limiter.active, 2, 'a finished task hands its slot to the next')
  t.equal(limiter.queued, 2)
  while (gates.length > 0) {
    gates.shift()!()
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(running)
  t.equal(limiter.active, 0)
})
