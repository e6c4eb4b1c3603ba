import net from 'node:net'
import t from 'tap'
import { buildSecondInstance, buildTestApp, cookieFrom, makeUser } from '../helpers/app.ts'
import { listen, openLive } from '../helpers/live.ts'
import { type Cookies, signIn, submitForm } from '../helpers/pages.ts'

t.test('a post on one instance reaches a reader on another', async (t) => {
  const first = await buildTestApp(t)
  const second = await buildSecondInstance(t, first, { live: { relayCheckEveryMs: 500 } })
  const tech = await makeUser(first.app, 'technician')
  const thread = (await first.app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Network down', body: 'Campus network is down.' } })).json()
  const customer = await makeUser(first.app, 'customer')
  const cookies = await signIn(second, customer)
  // The second instance keeps the thread's page, and its posts, in memory.
  const pages = () => Promise.all([second.inject({ url: `/t/${thread.id}` }), second.inject({ url: `/t/${thread.id}`, cookies })])
  for (const page of await pages()) t.notMatch(page.body, /Core switch replaced\./)
  const reader = openLive(await listen(second), thread.id)
  await reader.opened
  await new Promise((resolve) => setTimeout(resolve, 100))
  const posted = await first.app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Core switch replaced.' } })
  t.equal(posted.statusCode, 201)
  await reader.waitForCount(2)
  t.same(reader.events.map((e) => e.type), ['post.created', 'thread.updated'])
  t.equal(reader.events[0]!.post!.body, 'Core switch replaced.')
  const [anonymous, signedIn] = await pages()
  t.match(anonymous.body, /Core switch replaced\./, "the other instance's cached page has it too")
  t.match(signedIn.body, /Core switch replaced\./, 'and so has its page for signed-in readers')
  reader.ws.close()
})

t.test('a writer sent to another instance right after posting finds their post there, though that instance has not heard of it yet', async (t) => {
  const first = await buildTestApp(t)
  const second = await buildSecondInstance(t, first)
  const tech = await makeUser(first.app, 'technician')
  const thread = (await first.app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Storage array down', body: 'Investigating.' } })).json()
  const writer = await signIn(first.app, await makeUser(first.app, 'customer'))
  const watcher = await signIn(second, await makeUser(first.app, 'customer'))
  // Over HTTP, as a browser asks: what the server answers before Fastify (its front door) is in the way too.
  const host = await listen(second)
  const page = async (cookies: Cookies = {}) => await (await fetch(`http://${host}/t/${thread.id}`, {
    headers: { cookie: Object.entries(cookies).map(([name, value]) => `${name}=${value}`).join('; ') }
  })).text()
  // The second instance keeps the page: for readers, and for each one signed in (asked twice: then from the door).
  for (const cookies of [undefined, undefined, writer, writer, watcher]) t.notMatch(await page(cookies), /Is my data safe\?/)

  // Its LISTEN connection falls behind, as one does for a moment after every commit: what is committed now reaches it late.
  const listening = (second.notifications as unknown as { client: { connection: { stream: net.Socket } } }).client.connection.stream
  listening.pause()
  t.teardown(() => { listening.resume() })
  const posted = await submitForm(first.app, writer, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Is my data safe?' })
  t.equal(posted.statusCode, 303, 'the comment is taken')
  const seen = cookieFrom(posted, 'sitrep_seen')
  t.ok(seen, 'and the browser told how far its write went')
  t.notMatch(await page(watcher), /Is my data safe\?/, 'the other instance has not heard of it yet')
  t.notMatch(await page({ ...writer, sitrep_seen: `${thread.id}.99` }), /Is my data safe\?/, 'a made-up cookie changes nothing')

  t.match(await page({ ...writer, sitrep_seen: seen! }), /Is my data safe\?/, 'the writer, sent there, finds their comment')
  t.match(await page(), /Is my data safe\?/, 'and so does every reader after them')
  t.match(await page(watcher), /Is my data safe\?/)

  // Any route that writes tells the browser so: a moderator hides the comment.
  const moderator = await signIn(first.app, await makeUser(first.app, 'moderator'))
  const comment = await first.app.db.selectFrom('posts').select('id').where('thread_id', '=', thread.id).where('body', '=', 'Is my data safe?').executeTakeFirstOrThrow()
  const hidden = await submitForm(first.app, moderator, `/t/${thread.id}`, `/posts/${comment.id}/hide`, { reason: 'Asked by mail.' })
  t.equal(hidden.statusCode, 303, 'the comment is hidden')
  const seenHidden = cookieFrom(hidden, 'sitrep_seen')
  t.ok(seenHidden, 'and the moderator told how far that went')
  t.match(await page(), /Is my data safe\?/, 'the other instance has not heard of it yet')
  await page({ ...moderator, sitrep_seen: seenHidden! })
  t.notMatch(await page(), /Is my data safe\?/, 'once the moderator is sent there, readers no longer see it')
})

t.test('an instance that shuts down closes with 1001; the reader resumes on another with since and misses nothing', async (t) => {
  const first = await buildTestApp(t)
  const second = await buildSecondInstance(t, first, { live: { relayCheckEveryMs: 500 } })
  const tech = await makeUser(first.app, 'technician')
  const thread = (await first.app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Fire', body: 'Smoke in room 3.' } })).json()
  const post = (body: string) => second.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body } })

  const reader = openLive(await listen(first.app), thread.id, { since: 0 })
  await reader.waitForCount(1)
  const closing = reader.closed
  await first.app.close()
  t.equal((await closing).code, 1001, 'going away')

  const lastSeen = reader.events.at(-1)!.seq
  await post('while you were away')
  const resumed = openLive(await listen(second), thread.id, { since: lastSeen })
  await post('after you came back')
  await resumed.waitForCount(4)
  const seqs = [...reader.events, ...resumed.events].map((e) => e.seq)
  t.same(seqs, [1, 2, 3, 4, 5], 'every event once, in order, across the two connections')
  resumed.ws.close()
})

t.test('a socket that never reads is closed, and the server does not buffer for it without bound', async (t) => {
  const maxBufferedBytes = 64 * 1024
  const { app } = await buildTestApp(t, { live: { maxBufferedBytes } })
  const tech = await makeUser(app, 'technician')
  const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Flood', body: 'Start.' } })).json()
  const host = await listen(app)
  const [hostname, port] = host.split(':')

  // A raw client: it completes the handshake, then stops reading for good.
  const stuck = net.connect({ host: hostname, port: Number(port) })
  await new Promise<void>((resolve) => stuck.once('connect', () => resolve()))
  stuck.write([
    `GET /api/v1/threads/${thread.id}/live HTTP/1.1`, `Host: ${host}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', ''
  ].join('\r\n'))
  await new Promise<void>((resolve) => stuck.once('data', () => resolve()))
  stuck.pause()
  t.teardown(() => { stuck.destroy() })

  t.equal([...app.liveSockets].filter((s) => s.readyState === s.OPEN).length, 1, 'the stuck client is connected')
  const body = 'x'.repeat(19_000)
  for (let i = 0; i < 400 && [...app.liveSockets].some((s) => s.readyState === s.OPEN); i++) {
    await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body } })
  }
  const sockets = [...app.liveSockets]
  t.equal(sockets.length <= 1, true)
  for (const socket of sockets) {
    t.not(socket.readyState, socket.OPEN, 'the stuck socket is being closed')
    t.ok(socket.bufferedAmount < maxBufferedBytes + 64 * 1024, `buffered ${socket.bufferedAmount} bytes, bounded`)
  }
  t.equal(app.hub.socketCount <= 1, true)
})
