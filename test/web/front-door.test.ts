import { type IncomingHttpHeaders, request as httpRequest } from 'node:http'
import { brotliDecompressSync } from 'node:zlib'
import pg from 'pg'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { buildTestApp, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { onDatabaseServer } from '../helpers/database.ts'
import { listen, until } from '../helpers/live.ts'
import { type Cookies, apiAs, signIn } from '../helpers/pages.ts'
import { waitUntil } from '../helpers/server.ts'

interface Answer { status: number, headers: IncomingHttpHeaders, body: Buffer }

/** One request over a real connection, the body as it came (not decompressed). */
function get (base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

const withoutDate = ({ date: _date, ...headers }: IncomingHttpHeaders) => headers
/** Requests the app logged one line for: those Fastify answered. */
const routed = (lines: string[]) => lines.filter((line) => line.includes('"msg":"request"')).length

async function servedThread (t: Test) {
  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const renders: string[] = []
  const test = await buildTestApp(t, { logger, pageCache: { onRender: (key) => renders.push(key) } })
  const tech = await makeUser(test.app, 'technician')
  const thread = await apiAs<Thread>(test.app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  const base = `http://${await listen(test.app)}`
  return { ...test, tech, thread, base, lines, renders }
}

// A language cookie that says what Accept-Language says: the same page, but Fastify answers it.
const ROUTED = { cookie: 'sitrep_lang=en' }
const BR = { 'accept-encoding': 'br, gzip' }

t.test('a crowd of anonymous readers gets from memory the very answer Fastify gives', async (t) => {
  const { base, thread, lines } = await servedThread(t)
  const path = `/t/${thread.id}/campus-network-down`
  const rendered = await get(base, path, BR)
  t.equal(rendered.status, 200)
  const before = routed(lines)
  const fromMemory = await get(base, path, BR)
  t.equal(routed(lines), before, 'answered before routing: no request line')
  const fromFastify = await get(base, path, { ...BR, ...ROUTED })
  t.equal(routed(lines), before + 1)

  t.same(withoutDate(fromMemory.headers), withoutDate(fromFastify.headers), 'the same headers, security headers included')
  t.ok(fromMemory.body.equals(fromFastify.body), 'the same bytes')
  t.equal(fromMemory.headers['content-encoding'], 'br')
  t.match(brotliDecompressSync(fromMemory.body).toString(), /Core switch failed\./)
  t.match(fromMemory.headers['content-security-policy'], /frame-ancestors 'none'/)

  const etag = String(fromMemory.headers.etag)
  const notModified = await get(base, path, { ...BR, 'if-none-match': etag })
  const notModifiedRouted = await get(base, path, { ...BR, 'if-none-match': etag, ...ROUTED })
  t.equal(notModified.status, 304)
  t.equal(notModified.body.length, 0)
  t.equal(notModifiedRouted.status, 304)
  for (const name of ['etag', 'cache-control', 'vary']) t.equal(notModified.headers[name], notModifiedRouted.headers[name], `the same ${name} on the 304`)
  t.ok(notModified.headers.date)

  const head = await get(base, path, {}, 'HEAD')
  const headRouted = await get(base, path, ROUTED, 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body.length, 0)
  t.same(withoutDate(head.headers), withoutDate(headRouted.headers), 'the same HEAD')
  t.equal(routed(lines), before + 3, 'only the requests with a cookie went through Fastify')
})

t.test('what the front door answers is never stale, never another language, never someone else\'s', async (t) => {
  const { app, base, thread, tech, advance, renders } = await servedThread(t)
  const path = `/t/${thread.id}`
  await get(base, path)
  const old = await get(base, path)

  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'The spare switch is in.' })
  const afterPost = await get(base, path, { 'if-none-match': String(old.headers.etag) })
  t.equal(afterPost.status, 200, 'a new post: the old page no longer matches')
  t.match(afterPost.body.toString(), /The spare switch is in\./)

  const french = await get(base, path, { 'accept-language': 'fr-FR, fr;q=0.9' })
  t.match(french.body.toString(), /<html lang="fr"/)
  t.not(french.headers.etag, afterPost.headers.etag)

  const cookies = await signIn(app, tech)
  const cookie = Object.entries(cookies).map(([name, value]) => `${name}=${value}`).join('; ')
  const staff = await get(base, path, { cookie })
  t.equal(staff.headers['cache-control'], 'private, no-store', 'a signed-in reader gets their own page')
  t.match(staff.body.toString(), /id="compose"/)
  const unknownQuery = await get(base, `${path}?after=1`)
  t.notOk(unknownQuery.headers.etag, 'an address not led to a cached page is routed')

  await get(base, path)
  const rendered = renders.length
  advance(65_000)
  const later = await get(base, path)
  t.equal(later.status, 200)
  t.equal(renders.length, rendered + 1, 'an old entry is rendered again, not answered')
})

t.test('right after an event, the crowd waits at the front door for the one new render', async (t) => {
  // The render is held up by a lock another connection takes.
  if (!onDatabaseServer(t, 'the embedded database takes no second connection to hold a lock')) return
  const { app, base, thread, tech, lines, renders, config } = await servedThread(t)
  const path = `/t/${thread.id}`
  await get(base, path, BR)
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Power is back in hall B.' })

  // The render after the event is held up by a lock on the posts, as by a slow database.
  const lock = new pg.Client({ connectionString: config.databaseUrl })
  await lock.connect()
  t.teardown(() => lock.end())
  await lock.query('begin')
  await lock.query('lock table posts in access exclusive mode')
  const rendersBefore = renders.length
  const first = get(base, path, BR)
  await until(() => renders.length > rendersBefore)
  const routedBefore = routed(lines)
  const crowd = Array.from({ length: 20 }, () => get(base, path, BR))
  await new Promise((resolve) => setTimeout(resolve, 200))
  await lock.query('commit')

  const answers = await Promise.all([first, ...crowd])
  for (const answer of answers) {
    t.equal(answer.status, 200)
    t.match(brotliDecompressSync(answer.body).toString(), /Power is back in hall B\./)
  }
  t.equal(renders.length, rendersBefore + 1, 'one render for everyone')
  t.equal(routed(lines), routedBefore + 1, 'only the reader who came first went through Fastify')
})

const cookieHeader = (cookies: Cookies) => Object.entries(cookies).map(([name, value]) => `${name}=${value}`).join('; ')
/** Whose name the page's header says is signed in; undefined when nobody is. */
const signedInAs = (answer: Answer) => /class="site-nav__user"><bdi>([^<]+)<\/bdi> </.exec(brotliDecompressSync(answer.body).toString())?.[1]

t.test("a signed-in reader's reloads are answered at the front door too, while their session and their page hold", async (t) => {
  const { app, base, thread, tech, lines } = await servedThread(t)
  const alice = await makeUser(app, 'customer', { name: 'Alice Martin' })
  const path = `/t/${thread.id}/campus-network-down`
  const cookies = await signIn(app, alice)
  const asAlice = { ...BR, cookie: cookieHeader(cookies) }

  const before = routed(lines)
  const first = await get(base, path, asAlice)
  t.equal(routed(lines), before + 1, 'her session looked up and her page rendered by Fastify')
  const again = await get(base, path, asAlice)
  t.equal(routed(lines), before + 1, 'her reload answered before routing')
  t.equal(again.status, 200)
  t.same(withoutDate(again.headers), withoutDate(first.headers), 'the same headers, security headers included')
  t.ok(again.body.equals(first.body), 'the same bytes')
  t.equal(again.headers['cache-control'], 'private, no-store')
  t.equal(signedInAs(again), 'Alice Martin')
  const head = await get(base, path, asAlice, 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body.length, 0)
  t.equal(head.headers['content-length'], first.headers['content-length'])
  t.equal(routed(lines), before + 1)

  // The language chosen in this browser: a page of its own, from the door once rendered.
  const inFrench = { ...asAlice, cookie: `${asAlice.cookie}; sitrep_lang=fr` }
  await get(base, path, inFrench)
  const french = await get(base, path, inFrench)
  t.equal(routed(lines), before + 2, 'rendered once in French, then from the door')
  t.match(brotliDecompressSync(french.body).toString(), /<html lang="fr"/)
  t.match(brotliDecompressSync((await get(base, path, asAlice)).body).toString(), /<html lang="en"/, 'and her English page is still hers')
  const withToken = await get(base, path, { ...asAlice, authorization: 'Bearer not-a-token' })
  t.equal(withToken.status, 401, 'a request that also names a token is for Fastify to judge')
  t.equal(routed(lines), before + 3)

  // Bob signs in on her browser: her CSRF cookie, his own session.
  const bob = await makeUser(app, 'customer', { name: 'Bob Leroy' })
  const asBob = { ...BR, cookie: cookieHeader({ ...(await signIn(app, bob)), sitrep_csrf: cookies.sitrep_csrf! }) }
  await get(base, path, asBob)
  t.equal(signedInAs(await get(base, path, asBob)), 'Bob Leroy', 'his page, never hers')
  t.equal(signedInAs(await get(base, path, asAlice)), 'Alice Martin')

  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'The spare switch is in.' })
  t.match(brotliDecompressSync((await get(base, path, asAlice)).body).toString(), /The spare switch is in\./, 'a new post is on her next reload')

  // Renamed straight in the database, as by another instance: the announcement ends what was kept.
  await app.db.updateTable('users').set({ name: 'Alice Dupont' }).where('id', '=', alice.actor.id).execute()
  await waitUntil('her new name on her page', async () => signedInAs(await get(base, path, asAlice)) === 'Alice Dupont')

  const html = brotliDecompressSync((await get(base, path, asAlice)).body).toString()
  const logout = await app.inject({ method: 'POST', url: '/logout', cookies, payload: { _csrf: csrfFieldOf(html) } })
  t.equal(logout.statusCode, 303)
  const signedOut = await get(base, path, asAlice)
  t.equal(signedOut.status, 200)
  t.equal(signedInAs(signedOut), undefined, 'signed out, her cookies get nobody\'s page')
})

t.test('a request whose target is an absolute address, as a client set up for a proxy sends it, gets what its path asks', async (t) => {
  const { base, thread } = await servedThread(t)
  const { hostname, port } = new URL(base)
  const absolute = (path: string, headers: Record<string, string> = {}) => new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path: `${base}${path}`, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
  for (const headers of [{}, {}, ROUTED]) {
    const page = await absolute(`/t/${thread.id}`, headers)
    t.equal(page.status, 200, 'the page, from memory or from Fastify')
    t.match(page.body.toString(), /Core switch failed\./)
  }
  const api = await absolute(`/api/v1/threads/${thread.id}?x=1`)
  t.equal(api.status, 200)
  t.equal(JSON.parse(api.body.toString()).id, thread.id, 'its query too')
  t.equal((await absolute('/no-such-page')).status, 404)
  // The API's refusals in its own shape, as for any client.
  const missing = await absolute('/api/v1/threads/999999')
  t.equal(missing.status, 404)
  t.match(missing.headers['content-type'], /^application\/json/)
  t.same(JSON.parse(missing.body.toString()).error.code, 'not_found')
  const bad = await absolute('/api/v1/threads?limit=x')
  t.equal(bad.status, 400)
  t.same(JSON.parse(bad.body.toString()).error.code, 'invalid_request')
})
