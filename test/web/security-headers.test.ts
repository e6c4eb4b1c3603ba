import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs, signIn } from '../helpers/pages.ts'

function assertSecurityHeaders (t: Test, res: LightMyRequestResponse, what: string, https = false): void {
  const csp = String(res.headers['content-security-policy'] ?? '')
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]))
  t.same(directives.get('script-src'), ["'self'"], `${what}: scripts from the site itself only, none inline`)
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: no inline script or style allowed`)
  t.same(directives.get('frame-ancestors'), ["'none'"], `${what}: no framing (clickjacking)`)
  t.same(directives.get('object-src'), ["'none'"], `${what}: no plugins`)
  t.equal(res.headers['x-frame-options'], 'DENY', `${what}: no framing, for older browsers too`)
  t.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`)
  t.equal(res.headers['referrer-policy'], 'same-origin', `${what}: addresses stay on the site`)
  if (https) t.match(String(res.headers['strict-transport-security']), /^max-age=31536000/, `${what}: HSTS over HTTPS`)
  else t.notOk(res.headers['strict-transport-security'], `${what}: no HSTS over plain HTTP`)
}

t.test('every kind of answer carries the security headers', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  const miss = await app.inject({ url: `/t/${thread.id}` })
  const hit = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-encoding': 'br' } })
  const cookies = await signIn(app, tech)
  const answers: Record<string, LightMyRequestResponse> = {
    'a page rendered for an anonymous reader': miss,
    'a page from the cache': hit,
    'a 304 from the cache': await app.inject({ url: `/t/${thread.id}`, headers: { 'if-none-match': String(miss.headers.etag) } }),
    'a signed-in page': await app.inject({ url: `/t/${thread.id}`, cookies }),
    'the sign-in page': await app.inject({ url: '/login' }),
    'a JSON answer': await app.inject({ url: '/api/v1/threads' }),
    'an API error': await app.inject({ url: '/api/v1/threads/999999' }),
    'a missing page': await app.inject({ url: '/no/such/page' }),
    'a static file': await app.inject({ url: '/static/site.css' }),
    'a feed': await app.inject({ url: '/feed.atom' })
  }
  t.equal(hit.headers['content-encoding'], 'br', 'the hit came from the cache')
  t.equal(answers['a 304 from the cache']!.statusCode, 304)
  for (const [what, res] of Object.entries(answers)) assertSecurityHeaders(t, res, what)
})

t.test('served over HTTPS, browsers are told to keep to it', async (t) => {
  const { app } = await buildTestApp(t, { env: { PUBLIC_URL: 'https://status.example.org' } })
  const list = await app.inject({ url: '/' })
  const again = await app.inject({ url: '/' })
  assertSecurityHeaders(t, list, 'the incident list', true)
  assertSecurityHeaders(t, again, 'the incident list from the cache', true)
  t.match(String(list.headers['content-security-policy']), /upgrade-insecure-requests/)
})
