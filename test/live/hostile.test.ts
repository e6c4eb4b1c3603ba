import net from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { CLOSE_TOO_SLOW, Hub } from '../../src/live/hub.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError } from '../helpers/api.ts'
import { listen, openLive, until } from '../helpers/live.ts'

// What stream.test.ts and instances.test.ts already cover is left to them: a
// single oversized frame (1009), sockets that stop answering pings, the cap
// per address, and a client that stops reading while events go out live.

// Forced collections, so a memory figure counts what is kept and not garbage yet.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void
/** The heap and buffers still held once garbage is collected (buffers are freed in the background: twice, with a pause). */
const memoryInUse = async (): Promise<number> => {
  collectGarbage()
  await new Promise((resolve) => setTimeout(resolve, 200))
  collectGarbage()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}
const MiB = 1024 * 1024

async function setUp (t: Test, options: Parameters<typeof buildTestApp>[1] = {}) {
  const { app } = await buildTestApp(t, options)
  const tech = await makeUser(app, 'technician')
  const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Outage', body: 'Looking into it.' } })).json()
  const host = await listen(app)
  const post = async (body: string) => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body } })
    if (res.statusCode !== 201) throw new Error(`posting answered ${res.statusCode}`)
    return res.json() as { id: number }
  }
  return { app, thread, host, post }
}

/** A client on a bare TCP socket: it completes the handshake, then does what a library would not. */
async function rawClient (t: Test, host: string, threadId: number, query = ''): Promise<net.Socket> {
  const [hostname, port] = host.split(':')
  const socket = net.connect({ host: hostname, port: Number(port) })
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write([
    `GET /api/v1/threads/${threadId}/live${query} HTTP/1.1`, `Host: ${host}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', ''
  ].join('\r\n'))
  const answer = await new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))))
  if (!answer.startsWith('HTTP/1.1 101')) throw new Error(`no upgrade: ${answer.split('\r\n')[0]}`)
  return socket
}

/** A client frame: masked, as the protocol requires of clients (with a zero mask, so the payload reads as it is). */
function clientFrame (opcode: number, payload: Buffer, fin = true): Buffer {
  const head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length, 0, 0, 0, 0])
  return Buffer.concat([head, payload])
}

t.test('a message cut into many small fragments is closed once it passes the 4 KiB bound', async (t) => {
  const { app, thread, host } = await setUp(t)
  const client = openLive(host, thread.id)
  await client.opened
  for (let i = 0; i < 5000 && client.ws.readyState === WebSocket.OPEN; i++) client.ws.send('x', { fin: false })
  const { code } = await client.closed
  t.equal(code, 1009, 'closed as too big, although no fragment was')
  t.ok(await until(() => app.hub.socketCount === 0), 'the server let it go')
})

t.test('a message that never ends, made of empty fragments, is closed', async (t) => {
  const { app, thread, host } = await setUp(t)
  const client = openLive(host, thread.id)
  await client.opened
  // Empty fragments add nothing to the message's length: their number is what is bounded.
  for (let i = 0; i < 20_000 && client.ws.readyState === WebSocket.OPEN; i++) client.ws.send('', { fin: false })
  const { code } = await client.closed
  t.equal(code, 1008, 'closed for too many fragments')
  t.ok(await until(() => app.hub.socketCount === 0), 'the server let it go')
})

t.test('text frames that are not UTF-8 close the socket', async (t) => {
  const { thread, host } = await setUp(t)
  const client = openLive(host, thread.id)
  await client.opened
  client.ws.send(Buffer.from([0xff, 0xfe, 0xc3, 0x28]), { binary: false })
  const { code } = await client.closed
  t.equal(code, 1007, 'closed as invalid data')
})

t.test('a flood of small messages keeps no memory and stops no one', async (t) => {
  const { thread, host, post } = await setUp(t)
  const reader = openLive(host, thread.id)
  const flooder = openLive(host, thread.id)
  await Promise.all([reader.opened, flooder.opened])
  const before = await memoryInUse()
  const message = 'x'.repeat(4000)
  const count = 10_000
  for (let i = 0; i < count; i++) {
    flooder.ws.send(message)
    if (flooder.ws.bufferedAmount > 4 * MiB) await until(() => flooder.ws.bufferedAmount < MiB)
  }
  // The server answers a ping after every frame sent before it: then it has read the whole flood.
  await new Promise<void>((resolve) => { flooder.ws.once('pong', () => resolve()); flooder.ws.ping() })
  const grown = await memoryInUse() - before
  t.ok(grown < 16 * MiB, `after ${Math.round(count * message.length / MiB)} MiB sent, the process holds ${(grown / MiB).toFixed(1)} MiB more`)

  const news = await post('Still streaming.')
  await Promise.all([reader.waitForCount(1), flooder.waitForCount(1)])
  t.same([reader.events[0]!.post!.id, flooder.events[0]!.post!.id], [news.id, news.id], 'the reader, and the flooder too, get the next event')
  reader.ws.close()
  flooder.ws.close()
})

t.test('a client that sends pings and never reads is cut off before its pongs pile up', async (t) => {
  const { app, thread, host, post } = await setUp(t)
  const reader = openLive(host, thread.id)
  await reader.opened
  const flooder = await rawClient(t, host, thread.id)
  flooder.pause()
  t.equal(app.hub.socketCount, 2, 'both are connected')

  // Up to 200,000 pings of 125 bytes: 25 MiB of pongs, were they all queued.
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => clientFrame(0x9, Buffer.alloc(125, 0x61))))
  let gone = false
  flooder.once('close', () => { gone = true })
  let mostWaiting = 0
  for (let i = 0; i < 200 && !gone; i++) {
    if (!flooder.write(batch)) await until(() => gone || flooder.writableLength === 0, 1000)
    for (const socket of app.liveSockets) mostWaiting = Math.max(mostWaiting, socket.bufferedAmount)
  }
  t.ok(await until(() => app.hub.socketCount === 1), 'the server dropped the flooder')
  t.ok(mostWaiting < MiB, `at most ${mostWaiting} bytes of pongs waited for it`)

  const news = await post('Still here.')
  await reader.waitForCount(1)
  t.equal(reader.events[0]!.post!.id, news.id, 'the other reader goes on')
  reader.ws.close()
})

t.test('a replay of a long log to a client that never reads stops at a bounded buffer, then closes with 4008', async (t) => {
  const { app, thread, post } = await setUp(t)
  const body = 'Long update. '.repeat(300)
  for (let i = 0; i < 150; i++) await post(body)
  const { last_seq: lastSeq } = await app.db.selectFrom('threads').select('last_seq').where('id', '=', thread.id).executeTakeFirstOrThrow()

  const maxBufferedBytes = 64 * 1024
  const hub = new Hub({ db: app.db, maxBufferedBytes, drainTimeoutMs: 300 })

  // A socket whose peer never reads: what is sent stays buffered.
  let largestFrame = 0
  const stuck = {
    bufferedAmount: 0,
    readyState: 1,
    frames: 0,
    closedWith: null as number | null,
    send (data: Buffer) {
      this.frames++
      this.bufferedAmount += Buffer.byteLength(data)
      largestFrame = Math.max(largestFrame, Buffer.byteLength(data))
    },
    close (code?: number) { this.closedWith = code ?? 1000 }
  }
  await hub.join(thread.id, stuck, 0)
  t.equal(stuck.closedWith, CLOSE_TOO_SLOW, 'closed as too slow: it reconnects with since when it reads again')
  t.ok(stuck.frames < lastSeq, `${stuck.frames} of ${lastSeq} events were sent before it stopped`)
  t.ok(stuck.bufferedAmount <= maxBufferedBytes / 2 + largestFrame, `${stuck.bufferedAmount} bytes buffered, within the bound and one frame`)

  // The same replay to a socket that reads, however slowly, delivers everything in order.
  const seqs: number[] = []
  const slow = {
    bufferedAmount: 0,
    readyState: 1,
    send (data: Buffer) {
      seqs.push((JSON.parse(data.toString()) as { seq: number }).seq)
      this.bufferedAmount += Buffer.byteLength(data)
      setTimeout(() => { this.bufferedAmount -= Buffer.byteLength(data) }, 5)
    },
    close () { t.fail('a socket that reads is not closed') }
  }
  await hub.join(thread.id, slow, 0)
  t.same(seqs, Array.from({ length: lastSeq }, (_, i) => i + 1), 'a slow reader gets the whole log, once, in order')

  // A client that asks for the whole log and goes at once: its replay stops there, not 150 frames and seconds later.
  const gone = {
    bufferedAmount: 0,
    readyState: 1,
    frames: 0,
    send () {
      if (++this.frames === 3) this.readyState = 3
    },
    close () {}
  }
  await hub.join(thread.id, gone, 0)
  t.equal(gone.frames, 3, 'no frame is made for a socket once closed')
})

t.test('a crowd of sockets replaying a long log without reading holds a short page of it each, not the log', async (t) => {
  const { app, thread, post } = await setUp(t)
  const body = 'Long update, with what was done and what comes next. '.repeat(100)
  for (let i = 0; i < 200; i++) await post(body)
  const hub = new Hub({ db: app.db, maxBufferedBytes: 64 * 1024, drainTimeoutMs: 60_000 })
  const stuck = () => ({
    bufferedAmount: 0,
    readyState: 1,
    frames: 0,
    send (data: Buffer) { this.frames++; this.bufferedAmount += Buffer.byteLength(data) },
    close () { this.readyState = 3 }
  })
  const before = await memoryInUse()
  const sockets = Array.from({ length: 40 }, stuck)
  const joins = sockets.map((socket) => hub.join(thread.id, socket, 0))
  await until(() => sockets.every((socket) => socket.bufferedAmount > 32 * 1024), 30_000)
  const held = await memoryInUse() - before
  // Each replay holding the whole log (200 events of about 11 KB) came to about 2 MiB a socket.
  t.ok(held < 40 * MiB, `40 replays stuck on sockets that do not read hold ${(held / MiB).toFixed(1)} MiB, not 40 copies of the log`)
  for (const socket of sockets) socket.readyState = 3
  await Promise.all(joins)
  t.ok(sockets.every((socket) => socket.frames < 200), 'and each stopped at its bounded buffer')
})

t.test('a plain GET of the live address gets an error in the API\'s shape', async (t) => {
  const { app, thread } = await setUp(t)
  const res = await app.inject({ url: `/api/v1/threads/${thread.id}/live` })
  assertError(t, res, 426, 'upgrade_required')
  t.equal(res.headers.upgrade, 'websocket', 'naming the protocol to upgrade to')
  assertError(t, await app.inject({ url: '/api/v1/threads/999999/live' }), 404, 'not_found')
  assertError(t, await app.inject({ url: `/api/v1/threads/${thread.id}/live?since=-1` }), 400)
  assertError(t, await app.inject({ url: `/api/v1/threads/${thread.id}/live?since=-Infinity` }), 400, 'invalid_request')
  assertError(t, await app.inject({ url: '/api/v1/threads/Infinity/live' }), 400, 'invalid_request')
})
