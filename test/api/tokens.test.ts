import t from 'tap'
import { revokeApiToken } from '../../src/domain/tokens.ts'
import { PASSWORD, buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError, assertStatus, openThread } from '../helpers/api.ts'
import { waitUntil } from '../helpers/server.ts'

const { app } = await buildTestApp(t)
const tech = await makeUser(app, 'technician', { email: 'Night.Tech@example.org' })
const thread = await openThread(app, tech)

const askToken = (email: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email, password } })
const me = (authorization: string) => app.inject({ url: '/api/v1/me', headers: { authorization } })

t.test('the right credentials give a token that works as Bearer', async (t) => {
  const res = await askToken('night.tech@example.org', PASSWORD)
  assertStatus(t, res, 201)
  t.same(Object.keys(res.json()), ['token'])
  const { token } = res.json()
  t.type(token, 'string')
  const who = await me(`Bearer ${token}`)
  assertStatus(t, who, 200)
  t.same([who.json().email, who.json().role], [tech.actor.email, 'technician'])
  const post = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { authorization: `Bearer ${token}` }, payload: { body: 'Posted with a new token' } })
  assertStatus(t, post, 201)
  t.equal(post.json().author.id, tech.actor.id)
  const second = (await askToken(tech.actor.email, PASSWORD)).json().token
  t.not(second, token, 'each request makes a new token')
  assertStatus(t, await me(`Bearer ${token}`), 200, 'the first one still works')
})

t.test('wrong credentials get a 401', async (t) => {
  const wrong = await askToken(tech.actor.email, 'not the password')
  assertError(t, wrong, 401, 'invalid_credentials')
  const unknown = await askToken('nobody@example.org', PASSWORD)
  assertError(t, unknown, 401, 'invalid_credentials')
  t.equal(wrong.body, unknown.body, 'a wrong password and an unknown address get the same answer')
})

t.test('a revoked, unknown or malformed token gets a 401', async (t) => {
  const { token } = (await askToken(tech.actor.email, PASSWORD)).json()
  assertStatus(t, await me(`Bearer ${token}`), 200)
  t.ok(await revokeApiToken(app.db, token, new Date()), 'revoked')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { authorization: `Bearer ${token}` }, payload: { body: 'x' } }), 401)
  // A read may be served from what the instance keeps until the database announces the revocation, a moment after it commits.
  await waitUntil('the revocation to be announced', async () => (await me(`Bearer ${token}`)).statusCode === 401)
  assertError(t, await me(`Bearer ${token}`), 401)
  assertError(t, await app.inject({ url: '/api/v1/threads', headers: { authorization: `Bearer ${token}` } }), 401)
  for (const authorization of ['Bearer sitrep_unknownunknownunknown', 'Bearer nonsense', 'Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${token.slice(0, -2)}`]) {
    assertError(t, await me(authorization), 401)
  }
  assertError(t, await me(`Bearer ${tech.token}x`), 401)
  assertStatus(t, await me(`Bearer ${tech.token}`), 200, "the user's other tokens still work")
  assertStatus(t, await me(`bearer ${tech.token}`), 200, 'the scheme is case-insensitive')
})

t.test('without a token nobody is signed in', async (t) => {
  assertError(t, await app.inject({ url: '/api/v1/me' }), 401, 'unauthorized')
})
