import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs, signIn } from '../helpers/pages.ts'

async function appWithThread (t: Test, renders: string[] = []) {
  const test = await buildTestApp(t, { pageCache: { onRender: (key) => renders.push(key) } })
  const tech = await makeUser(test.app, 'technician')
  const thread = await apiAs<Thread>(test.app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  return { ...test, tech, thread, renders }
}

t.test('an anonymous reader gets the cached page, and a 304 once they have it', async (t) => {
  const { app, thread, renders } = await appWithThread(t)
  const first = await app.inject({ url: `/t/${thread.id}` })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['cache-control'], 'public, max-age=5, stale-while-revalidate=30, stale-if-error=86400')
  t.equal(first.headers.vary, 'Accept-Encoding, Accept-Language, Cookie')
  t.match(String(first.headers.etag), /^"[\w-]+"$/, 'a strong ETag')
  t.notOk(first.headers['set-cookie'], 'an anonymous page sets no cookie')

  const second = await app.inject({ url: `/t/${thread.id}/any-slug` })
  t.equal(second.statusCode, 200)
  t.equal(second.headers.etag, first.headers.etag, 'the same page under any slug')
  t.equal(second.body, first.body)
  t.same(renders, ['en|thread:' + thread.id + ':all'], 'rendered once')

  const revalidated = await app.inject({ url: `/t/${thread.id}`, headers: { 'if-none-match': String(first.headers.etag) } })
  t.equal(revalidated.statusCode, 304)
  t.equal(revalidated.body, '', 'no body')
  t.equal(revalidated.headers.etag, first.headers.etag)

  const official = await app.inject({ url: `/t/${thread.id}?view=official` })
  t.not(official.headers.etag, first.headers.etag, 'the official view is its own entry')
  const french = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })
  t.not(french.headers.etag, first.headers.etag, 'each language is its own entry')
  t.match(french.body, /lang="fr"/)
})

t.test('a HEAD request is answered from the cache too, without a body', async (t) => {
  const { app, thread, renders } = await appWithThread(t)
  const page = await app.inject({ url: `/t/${thread.id}` })
  const head = await app.inject({ method: 'HEAD', url: `/t/${thread.id}` })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
  t.equal(head.headers.etag, page.headers.etag)
  t.equal(head.headers['content-length'], String(Buffer.byteLength(page.body)))
  t.equal(renders.length, 1, 'not rendered again')
})

t.test('a new post drops the entry: the next reader sees it', async (t) => {
  const { app, tech, thread } = await appWithThread(t)
  const before = await app.inject({ url: `/t/${thread.id}` })
  const list = await app.inject({ url: '/' })
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'The spare switch is in.' })
  const after = await app.inject({ url: `/t/${thread.id}`, headers: { 'if-none-match': String(before.headers.etag) } })
  t.equal(after.statusCode, 200, 'the old ETag no longer matches')
  t.not(after.headers.etag, before.headers.etag)
  t.match(after.body, /The spare switch is in\./)
  const listAfter = await app.inject({ url: '/' })
  t.not(listAfter.headers.etag, list.headers.etag, 'the incident list is dropped on any thread event')
})

t.test('gzip and brotli bodies are the same page', async (t) => {
  const { app, thread } = await appWithThread(t)
  const plain = await app.inject({ url: `/t/${thread.id}` })
  const gz = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-encoding': 'gzip, deflate' } })
  const br = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-encoding': 'br, gzip' } })
  t.equal(gz.headers['content-encoding'], 'gzip')
  t.equal(br.headers['content-encoding'], 'br')
  t.equal(plain.headers['content-encoding'], undefined)
  t.equal(gunzipSync(gz.rawPayload).toString(), plain.body)
  t.equal(brotliDecompressSync(br.rawPayload).toString(), plain.body)
  // Each encoding is a representation of its own: a cache revalidating one must not be told another is current.
  t.same(new Set([plain.headers.etag, gz.headers.etag, br.headers.etag]).size, 3, 'each encoding has its own strong ETag')
  const brAgain = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-encoding': 'br, gzip', 'if-none-match': String(br.headers.etag) } })
  t.equal(brAgain.statusCode, 304, 'a brotli reader revalidating its copy gets a 304')
  t.equal(brAgain.headers.etag, br.headers.etag)
  const gzipOnly = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-encoding': 'gzip', 'if-none-match': String(br.headers.etag) } })
  t.equal(gzipOnly.statusCode, 200, 'one that reads gzip only, offering the brotli copy\'s tag, gets the page in gzip')
  t.equal(gzipOnly.headers['content-encoding'], 'gzip')
})

t.test('concurrent misses for one page render it once', async (t) => {
  const { app, thread, renders } = await appWithThread(t)
  const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject({ url: `/t/${thread.id}` })))
  t.ok(answers.every((res) => res.statusCode === 200))
  t.equal(new Set(answers.map((res) => res.headers.etag)).size, 1)
  t.equal(renders.length, 1, 'one render for twenty readers')
})

t.test('an entry is rendered again once old, so "next update in N min" stays right', async (t) => {
  const { app, thread, renders, advance } = await appWithThread(t)
  await app.inject({ url: `/t/${thread.id}` })
  advance(10_000)
  await app.inject({ url: `/t/${thread.id}` })
  t.equal(renders.length, 1)
  advance(25_000)
  await app.inject({ url: `/t/${thread.id}` })
  t.equal(renders.length, 2)
})

t.test('signed-in readers, paged views and ?lang= are never served from the anonymous cache', async (t) => {
  const { app, tech, thread, renders } = await appWithThread(t)
  await app.inject({ url: `/t/${thread.id}` })
  const cookies = await signIn(app, tech)
  const staff = await app.inject({ url: `/t/${thread.id}`, cookies })
  t.equal(staff.statusCode, 200)
  t.equal(staff.headers['cache-control'], 'private, no-store')
  t.notOk(staff.headers.etag)
  t.match(staff.body, /id="compose"/, 'the staff page has its forms')
  const list = await app.inject({ url: '/', cookies })
  t.equal(list.headers['cache-control'], 'private, no-store')
  for (const url of [`/t/${thread.id}/timeline`, '/account', `/t/${thread.id}/handover`]) {
    const page = await app.inject({ url, cookies })
    t.equal(page.statusCode, 200, url)
    t.equal(page.headers['cache-control'], 'private, no-store', `${url}: a signed-in page no cache in front may keep`)
  }
  t.equal((await app.inject({ url: '/login' })).headers['cache-control'], 'private, no-store', 'nor a form with its reader\'s CSRF token')

  const lang = await app.inject({ url: `/t/${thread.id}?lang=fr` })
  t.notOk(lang.headers.etag, 'a language choice is rendered, not cached')
  t.ok(lang.headers['set-cookie'], 'and remembered')
  t.equal(lang.headers['cache-control'], 'private, no-store', 'an answer setting a cookie is no cache\'s to keep')
  const paged = await app.inject({ url: `/t/${thread.id}?after=1` })
  t.equal(paged.statusCode, 200)
  t.notOk(paged.headers.etag)
  t.same(renders, ['en|thread:' + thread.id + ':all'], 'only the anonymous page went through the cache')
})

t.test('with the cache off, every anonymous request renders', async (t) => {
  const renders: string[] = []
  const { app } = await buildTestApp(t, { pageCache: { enabled: false, onRender: (key) => renders.push(key) } })
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.notOk(res.headers.etag)
  t.same(renders, [])
})

t.test('with the cache off, each post shows as it is now: edited, its author renamed, hidden', async (t) => {
  // Each post's HTML is still kept between requests; it must follow the post.
  const { app } = await buildTestApp(t, { pageCache: { enabled: false } })
  const tech = await makeUser(app, 'technician', { name: 'Nadia Lead' })
  const moderator = await makeUser(app, 'moderator')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Cooling failure', body: 'Chiller 2 stopped.' })
  const post = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Racks 1 to 4 are back.' })
  const moderators = await signIn(app, moderator)
  const page = async (cookies?: Record<string, string>) => {
    const res = await app.inject({ url: `/t/${thread.id}`, ...(cookies !== undefined && { cookies }) })
    t.equal(res.statusCode, 200)
    return res.body
  }
  const authorOf = (html: string) => /id="p-\d+"[^]*?<span class="post__author" dir="auto">([^<]*)</.exec(html.slice(html.indexOf(`id="p-${post.id}"`)))?.[1]

  t.match(await page(), /Racks 1 to 4 are back\./)
  t.equal(authorOf(await page()), 'Nadia Lead')

  await apiAs(app, tech, 'PATCH', `/posts/${post.id}`, { body: 'Racks 1 to 6 are back.' })
  const edited = await page()
  t.match(edited, /Racks 1 to 6 are back\./, 'the edit shows')
  t.notMatch(edited, /Racks 1 to 4 are back\./, 'and the old text is gone')

  await app.db.updateTable('users').set({ name: 'Nadia Martin' }).where('id', '=', tech.actor.id).execute()
  t.equal(authorOf(await page()), 'Nadia Martin', 'the author\'s new name shows on their post')

  await apiAs(app, moderator, 'POST', `/posts/${post.id}/hide`, { reason: 'Wrong rack numbers' })
  t.notMatch(await page(), /Racks 1 to 6 are back\./, 'hidden from readers')
  t.match(await page(moderators), /Racks 1 to 6 are back\./, 'a moderator still reads it')
  const reader = await page()
  t.notMatch(reader, /Racks 1 to 6 are back\./, 'and readers still do not, after the moderator\'s page')
  t.match(reader, /Wrong rack numbers/, 'they see why')
})
