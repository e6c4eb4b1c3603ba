import t from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs } from '../helpers/pages.ts'

interface Entry { title: string, id: string, link: string, updated: string, content: string, author: string }

/**
 * A strict enough XML reader for these feeds: every tag closes in order, every
 * entity is one XML knows, CDATA is taken as is. Throws on anything else.
 */
function checkWellFormed (xml: string): void {
  if (!xml.startsWith('<?xml version="1.0" encoding="utf-8"?>')) throw new Error('no XML declaration')
  // eslint-disable-next-line no-control-regex
  const illegal = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.exec(xml)
  if (illegal !== null) throw new Error(`U+${illegal[0].charCodeAt(0).toString(16).padStart(4, '0')}, which XML 1.0 forbids`)
  const body = xml.slice(xml.indexOf('?>') + 2).replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '')
  if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[\da-f]+);)/i.test(body)) throw new Error('a bare & in the XML')
  const stack: string[] = []
  for (const [tag, close, name, selfClosing] of body.matchAll(/<(\/?)([\w:-]+)(?:\s+[\w:-]+="[^"<]*")*\s*(\/?)>/g)) {
    if (selfClosing === '/') continue
    if (close === '/') {
      if (stack.pop() !== name) throw new Error(`unbalanced ${tag}`)
    } else {
      stack.push(name!)
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`)
  const stray = body.replace(/<(\/?)([\w:-]+)(?:\s+[\w:-]+="[^"<]*")*\s*(\/?)>/g, '')
  if (stray.includes('<')) throw new Error('a < outside any tag')
}

const text = (xml: string, tag: string): string => {
  const match = new RegExp(`<${tag}[^>]*>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([\\s\\S]*?))</${tag}>`).exec(xml)
  return match === null ? '' : (match[1] ?? match[2] ?? '')
}

function entriesOf (xml: string): Entry[] {
  return [...xml.matchAll(/<entry>([\s\S]*?)<\/entry>/g)].map(([, entry]) => ({
    title: text(entry!, 'title'),
    id: text(entry!, 'id'),
    link: /<link href="([^"]+)"/.exec(entry!)?.[1] ?? '',
    updated: text(entry!, 'updated'),
    content: text(entry!, 'content'),
    author: text(entry!, 'name')
  }))
}

t.test('a thread\'s feed has its official updates, newest first, and no comments', async (t) => {
  const { app } = await buildTestApp(t, { env: { PUBLIC_URL: 'https://status.example.org' } })
  const tech = await makeUser(app, 'technician', { name: 'Nina <Night> & co' })
  const customer = await makeUser(app, 'customer')
  // Two hours from now, on the minute (the feed says the time to the minute, in UTC here).
  const promised = new Date(Math.ceil((Date.now() + 2 * 3_600_000) / 60_000) * 60_000)
  const clock = `${String(promised.getUTCHours()).padStart(2, '0')}:${String(promised.getUTCMinutes()).padStart(2, '0')}`
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Core <router> & fibre ]]> down', body: 'Router **down**.' })
  await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'A customer comment' })
  const second = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, {
    body: 'Rerouted <script>alert(1)</script> via the backup link.', status: 'monitoring', nextUpdateAt: promised.toISOString()
  })

  const res = await app.inject({ url: `/t/${thread.id}/feed.atom` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/atom+xml; charset=utf-8')
  const xml = res.body
  t.doesNotThrow(() => checkWellFormed(xml), 'well-formed XML')
  t.match(xml, /<feed xmlns="http:\/\/www.w3.org\/2005\/Atom" xml:lang="en">/)
  t.match(xml, /<link rel="self" href="https:\/\/status.example.org\/t\/\d+\/feed.atom\?lang=en"\/>/, 'absolute links from PUBLIC_URL, naming the feed\'s language')

  const entries = entriesOf(xml)
  t.equal(entries.length, 2, 'one entry per update, none for the comment')
  t.notMatch(xml, /A customer comment/)
  t.match(entries[0]!.content, /Rerouted &lt;script&gt;alert\(1\)&lt;\/script&gt; via the backup link\./, 'the newest first, its sanitised HTML')
  t.match(entries[0]!.title, /Official update, .+ \d\d:\d\d UTC: Monitoring/, 'titled with its time and the zone it is in')
  t.equal(entries[0]!.link, `https://status.example.org/posts/${second.id}`, 'each entry links to its post\'s own address, which leads to where it is in a long thread')
  t.match(entries[0]!.content, new RegExp(`<p><em>Next update by [^<]*${clock}[^<]* (UTC|GMT)</em></p>`), 'with the next update it promised, its time zone named')
  t.match(entries[1]!.content, /Router <strong>down<\/strong>\./)
  t.notMatch(entries[1]!.content, /Next update by/, 'an update that promised nothing says nothing of it')
  t.equal(entries[0]!.author, 'Nina &lt;Night&gt; &amp; co', 'the author, escaped')
  for (const entry of entries) t.match(entry.updated, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/)
  t.notMatch(xml, /<script/i, 'no script anywhere')

  const french = await app.inject({ url: `/t/${thread.id}/feed.atom`, headers: { 'accept-language': 'fr' } })
  t.match(entriesOf(french.body)[0]!.title, /Point de situation, .+\u00a0: Sous surveillance/, 'titles in the reader\'s language')
  t.match(french.body, /<feed xmlns="http:\/\/www.w3.org\/2005\/Atom" xml:lang="fr">/, 'which the feed names')

  t.equal((await app.inject({ url: '/t/999/feed.atom' })).statusCode, 404)
})

t.test('the site feed has each incident, the most recently active first', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const mod = await makeUser(app, 'moderator')
  const quiet = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Old <b>incident</b>', body: 'Started.' })
  advance(60_000)
  const busy = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Busy incident', body: 'Started too.' })
  advance(60_000)
  const update = await apiAs<Post>(app, tech, 'POST', `/threads/${quiet.id}/posts`, { body: 'New **finding**.', status: 'identified' })
  await apiAs(app, mod, 'PUT', `/threads/${quiet.id}/pin`, { postId: update.id })

  const res = await app.inject({ url: '/feed.atom' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/atom+xml; charset=utf-8')
  t.doesNotThrow(() => checkWellFormed(res.body), 'well-formed XML')
  t.match(res.body, /<feed xmlns="http:\/\/www.w3.org\/2005\/Atom" xml:lang="en">/)
  const entries = entriesOf(res.body)
  t.same(entries.map((entry) => entry.id), [`http://127.0.0.1:3000/t/${quiet.id}`, `http://127.0.0.1:3000/t/${busy.id}`], 'the latest activity first')
  t.equal(entries[0]!.title, 'Old &lt;b&gt;incident&lt;/b&gt; (Identified)', 'a title is text, not markup')
  t.match(entries[0]!.content, /New <strong>finding<\/strong>\./, 'the current state in the entry')

  // The promise in full, its date and time zone named: a feed reader has no script to put it in the reader's.
  const promised = new Date(Math.ceil((app.deps.now().getTime() + 90 * 60_000) / 60_000) * 60_000)
  await apiAs(app, tech, 'POST', `/threads/${busy.id}/posts`, { body: 'Next one soon.', nextUpdateAt: promised.toISOString() })
  const full = (locale: 'en' | 'fr') => new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'fr-FR', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short', timeZone: 'UTC' }).format(promised)
  for (const locale of ['en', 'fr'] as const) {
    const entry = entriesOf((await app.inject({ url: `/feed.atom?lang=${locale}` })).body).find((one) => one.id.endsWith(`/t/${busy.id}`))
    t.match(entry?.content, `>${full(locale)}<`, `${locale}: the promise shown with its date and zone`)
  }
})

t.test('the site feed of a new site is empty but valid', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/feed.atom' })
  t.equal(res.statusCode, 200)
  t.doesNotThrow(() => checkWellFormed(res.body))
  t.equal(entriesOf(res.body).length, 0)
})

t.test('invisible control characters, pasted from a terminal, do not break the feeds', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Bell\u0007 Ringer' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Printer queue\u0007 stuck', body: 'Started.' })
  t.equal(thread.title, 'Printer queue stuck', 'dropped from a title, which is otherwise kept')
  const post = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: '\u001b[31mERROR\u001b[0m spool full\u000c' })
  t.equal(post.body, '[31mERROR[0m spool full', 'and from a post')
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: '\u0001\u0002' } })).json().error.code, 'empty_body', 'a post of nothing else is empty')
  // Kept before they were dropped on input.
  await app.db.updateTable('posts').set({ html: '<p>old \u0003 text</p>' }).where('id', '=', post.id).execute()
  await app.db.updateTable('threads').set({ title: 'Old\u001f title' }).where('id', '=', thread.id).execute()
  for (const url of ['/feed.atom', `/t/${thread.id}/feed.atom`]) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200)
    t.doesNotThrow(() => checkWellFormed(res.body), `${url} is well-formed XML`)
  }
  t.match((await app.inject({ url: `/t/${thread.id}/feed.atom` })).body, /Bell Ringer/, 'names too')
})

t.test('a feed reader polling a feed gets a 304 until it changes, in its language', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Storage slow', body: 'Looking.' })
  for (const url of ['/feed.atom', `/t/${thread.id}/feed.atom`]) {
    const first = await app.inject({ url })
    t.match(first.headers['cache-control'], /^public, max-age=\d+/, `${url} may be kept by a proxy`)
    t.match(first.headers.vary, /Accept-Language/, 'apart for each language')
    const tag = first.headers.etag as string
    t.match(tag, /^"[^"]+"$/, 'with a strong ETag')
    const again = await app.inject({ url, headers: { 'if-none-match': tag } })
    t.equal(again.statusCode, 304, 'a reader that has it gets a 304')
    t.equal(again.body, '')
    const french = await app.inject({ url, headers: { 'if-none-match': tag, 'accept-language': 'fr' } })
    t.equal(french.statusCode, 200, 'the French feed is another one')
    t.not(french.headers.etag, tag)
  }
  const before = (await app.inject({ url: `/t/${thread.id}/feed.atom` })).headers.etag as string
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Disk replaced.' })
  const after = await app.inject({ url: `/t/${thread.id}/feed.atom`, headers: { 'if-none-match': before } })
  t.equal(after.statusCode, 200, 'a new update is sent in full')
  t.match(after.body, /Disk replaced\./)
})
