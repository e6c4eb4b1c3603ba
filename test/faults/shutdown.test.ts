import http from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import pg from 'pg'
import t from 'tap'
import WebSocket from 'ws'
import type { Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs } from '../helpers/pages.ts'
import { serverBinariesAvailable, startCluster } from '../helpers/cluster.ts'
import { call, makeAccount, startServer, waitUntil } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  // A deploy stops an instance with SIGTERM. A technician's update on its way at
  // that moment must get its answer, and be stored, not be cut off.

  const cluster = await startCluster(t)
  const databaseUrl = await cluster.createDatabase('sitrep')
  const server = await startServer(t, databaseUrl)
  const tech = await makeAccount(databaseUrl, 'technician', 'night@example.org')

  /** A POST whose body is sent in two halves, the second when `finish` is called. */
  function postInTwoHalves (path: string, json: unknown) {
    const body = Buffer.from(JSON.stringify(json))
    const request = http.request(`${server.base}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tech.token}`,
        'content-type': 'application/json',
        'content-length': String(body.length),
        // The server answers "100 Continue" once it has the request's head: then it is under way.
        expect: '100-continue'
      }
    })
    const underWay = new Promise<void>((resolve) => request.once('continue', () => {
      request.write(body.subarray(0, body.length >> 1))
      resolve()
    }))
    const answer = new Promise<{ status: number }>((resolve, reject) => {
      request.once('response', (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }))
      })
      request.once('error', reject)
    })
    answer.catch(() => {})
    request.flushHeaders()
    return { underWay, answer, finish: () => request.end(body.subarray(body.length >> 1)) }
  }

  const listening = () => fetch(`${server.base}/healthz`).then(() => true, () => false)

  t.test('an update under way when the instance is told to stop is answered and stored; then it exits cleanly', async (t) => {
    const opened = await call(server.base, 'POST', '/api/v1/threads', { token: tech.token, json: { title: 'Storage array degraded', body: 'Two disks lost in array B.' } })
    t.equal(opened.status, 201)
    const threadId = opened.json.id as number

    const update = postInTwoHalves(`/api/v1/threads/${threadId}/posts`, { body: 'Rebuild started on the spare disks.' })
    await update.underWay
    const exited = server.stop()
    // Stopping has begun: no new connection is taken.
    await waitUntil('the instance stops listening', async () => !await listening(), 10_000)
    update.finish()

    const answer = await update.answer
    t.equal(answer.status, 201, 'the technician gets the answer to the update they sent')
    t.equal(await exited, 0, 'the instance then exits cleanly')
    t.notMatch(server.output(), /"level":(50|60)|destroyed/, 'with no error in its log')

    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    t.teardown(() => client.end())
    const { rows } = await client.query<{ body: string }>('select body from posts where thread_id = $1 order by id', [threadId])
    t.same(rows.map((row) => row.body), ['Two disks lost in array B.', 'Rebuild started on the spare disks.'], 'and the update is stored')
  })

  t.test('a live socket whose reader stopped reading does not hold up the stop: the instance closes every socket and exits cleanly', async (t) => {
    const instance = await startServer(t, databaseUrl)
    const opened = await call(instance.base, 'POST', '/api/v1/threads', { token: tech.token, json: { title: 'Chiller plant alarm', body: 'Investigating.' } })
    const live = `/api/v1/threads/${opened.json.id as number}/live`
    // A reader whose phone went to sleep: the socket is open, and nothing on it is read any more.
    const asleep = connect(Number(instance.host.split(':')[1]), '127.0.0.1')
    asleep.on('error', () => {})
    t.teardown(() => { asleep.destroy() })
    asleep.write(`GET ${live} HTTP/1.1\r\nHost: ${instance.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    const upgrade = await new Promise<string>((resolve) => asleep.once('data', (data) => resolve(String(data))))
    t.match(upgrade, /^HTTP\/1\.1 101 /, 'its socket was opened')
    asleep.pause()
    // And a reader who reads.
    const awake = new WebSocket(`ws://${instance.host}${live}`)
    t.teardown(() => awake.terminate())
    await new Promise((resolve, reject) => { awake.once('open', resolve); awake.once('error', reject) })
    const awakeClosed = new Promise<number>((resolve) => awake.once('close', (code) => resolve(code)))

    t.equal(await instance.stop(), 0, 'the instance exits cleanly, not cut off by its own deadline')
    t.equal(await awakeClosed, 1001, 'the reader who reads was told the server is going away, to reconnect elsewhere')
  })

  t.test('a request still running when the instance has closed its database is told to try again, not given a 500', async (t) => {
    // As an instance stops, a request whose client has already gone is not
    // waited for: its next query finds the database closed.
    const { app } = await buildTestApp(t)
    const staff = await makeUser(app, 'technician')
    await app.database.close()
    for (const [method, url, payload] of [['GET', '/api/v1/threads', undefined], ['POST', '/api/v1/threads', { title: 'Cooling failure', body: 'Hall 3 is warming.' }]] as const) {
      const answer = await app.inject({ method, url, headers: staff.auth, ...(payload !== undefined && { payload }) })
      t.equal(answer.statusCode, 503, `${method} ${url}`)
      t.equal(answer.json().error.code, 'database_unavailable')
      t.ok(Number(answer.headers['retry-after']) > 0, 'with Retry-After')
    }
  })

  t.test('a request that comes on an open connection once the instance is stopping is told to try again, in the contract\'s shape', async (t) => {
    const { app } = await buildTestApp(t)
    const staff = await makeUser(app, 'technician')
    const thread = await apiAs<Thread>(app, staff, 'POST', '/threads', { title: 'Power feed A lost', body: 'Running on feed B.' })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo

    // One connection: an update whose body is still coming, and a second request behind it.
    const socket = connect(port, '127.0.0.1')
    t.teardown(() => socket.destroy())
    let received = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { received += chunk })
    const ended = new Promise((resolve) => socket.once('close', resolve))
    const body = JSON.stringify({ body: 'Feed A back; load shared again.' })
    socket.write(`POST /api/v1/threads/${thread.id}/posts HTTP/1.1\r\nHost: sitrep\r\nAuthorization: Bearer ${staff.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`)
    await waitUntil('the update is under way', async () => received.includes('100 Continue'), 5_000)
    socket.write(body.slice(0, 10))

    const closed = app.close()
    await new Promise((resolve) => setImmediate(resolve))
    socket.write(body.slice(10) + 'GET /api/v1/threads HTTP/1.1\r\nHost: sitrep\r\nAccept: application/json\r\n\r\n')
    await ended
    await closed

    const answers = received.split(/(?=HTTP\/1\.1 )/).filter((part) => !part.startsWith('HTTP/1.1 100'))
    t.match(answers[0], /^HTTP\/1\.1 201 /, 'the update under way is answered and taken')
    const refused = answers[1] ?? ''
    t.match(refused, /^HTTP\/1\.1 503 /, 'the request after it is refused')
    t.match(refused, /\r\nretry-after: 1\r\n/i, 'with Retry-After')
    t.match(refused, /\r\nconnection: close\r\n/i, 'and the connection closed, so the retry reaches another instance')
    const json = JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4)) as { error: { code: string, message: string } }
    t.equal(json.error.code, 'overloaded', 'in the contract\'s error shape')
    t.type(json.error.message, 'string')
  })
}
