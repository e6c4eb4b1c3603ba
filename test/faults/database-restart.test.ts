import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { serverBinariesAvailable, startCluster } from '../helpers/cluster.ts'
import { oneTo, startReader } from '../helpers/reader.ts'
import { type Answer, call, makeAccount, pause, startServer, waitUntil } from '../helpers/server.ts'

t.test('the database crashes and restarts while technicians post: nothing acknowledged is lost, the app comes back by itself', async (t) => {
  if (!serverBinariesAvailable(t)) return
  const cluster = await startCluster(t, { durable: true })
  const databaseUrl = await cluster.createDatabase('sitrep')
  const server = await startServer(t, databaseUrl)
  const tech = await makeAccount(databaseUrl, 'technician', 'night@example.org')
  const opened = await call(server.base, 'POST', '/api/v1/threads', { token: tech.token, json: { title: 'Datacenter fire', body: 'Smoke in hall B.' } })
  t.equal(opened.status, 201, 'the thread is open')
  const threadId = opened.json.id as number
  const reader = startReader(t, server.host, threadId, { since: 0 })

  // Technicians post one update after another; one the server refuses is sent
  // again with the same Idempotency-Key, as a careful client does.
  const acknowledged: { id: number, body: string }[] = []
  const refused: Answer[] = []
  const unanswered: string[] = []
  let writing = true
  const writer = async (name: string) => {
    for (let i = 1; writing; i++) {
      const body = `Update ${name}-${i} from the floor.`
      const key = randomUUID()
      while (writing) {
        let answer: Answer
        try {
          answer = await call(server.base, 'POST', `/api/v1/threads/${threadId}/posts`, { token: tech.token, json: { body }, headers: { 'idempotency-key': key } })
        } catch (err) {
          unanswered.push(`${body}: ${(err as Error).message}`)
          await pause(100)
          continue
        }
        if (answer.status === 201) {
          acknowledged.push({ id: answer.json.id, body })
          break
        }
        refused.push(answer)
        await pause(100)
      }
    }
  }
  const readiness: number[] = []
  let probing = true
  const prober = (async () => {
    while (probing) {
      readiness.push(await call(server.base, 'GET', '/readyz').then((a) => a.status, () => 0))
      await pause(100)
    }
  })()

  // A failed wait must not leave them running.
  t.teardown(() => {
    writing = false
    probing = false
  })
  const writers = Promise.all(['a', 'b', 'c'].map(writer))
  await waitUntil('the first acknowledged posts', () => acknowledged.length >= 10)
  await cluster.crash()
  const beforeOutage = acknowledged.length
  await waitUntil('writes refused while the database is down', () => refused.length >= 6)
  await waitUntil('/readyz to report the outage', () => readiness.includes(503))
  await cluster.start()
  await waitUntil('/readyz to recover', () => readiness.at(-1) === 200)
  await waitUntil('posts acknowledged after the restart', () => acknowledged.length >= beforeOutage + 10)
  writing = false
  await writers
  probing = false
  await prober

  t.ok(server.alive(), 'the app process is still running: no crash, no unhandled rejection')
  t.same(unanswered, [], 'every request got an answer, none hung or was cut')
  t.ok(refused.length > 0, 'the outage was felt: some writes were refused')
  t.same([...new Set(refused.map((a) => a.status))], [503], 'a write the database cannot take answers 503, never 500')
  t.ok(refused.every((a) => a.json?.error?.code === 'database_unavailable' && typeof a.json.error.message === 'string' && Object.keys(a.json).length === 1),
    'with the contract\'s error body, code database_unavailable', { body: refused[0]?.text })
  t.ok(refused.every((a) => Number(a.headers.get('retry-after')) > 0), 'and a Retry-After')
  const firstDown = readiness.indexOf(503)
  t.ok(readiness.slice(0, firstDown).every((s) => s === 200), '/readyz answered 200 before the crash')
  t.equal(readiness.at(-1), 200, '/readyz answers 200 again after the restart')

  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(() => client.end().catch(() => {}))
  const { rows } = await client.query<{ id: number, body: string }>('select id, body from posts where thread_id = $1 order by id', [threadId])
  const stored = new Map(rows.map((row) => [row.id, row.body]))
  const lost = acknowledged.filter((post) => stored.get(post.id) !== post.body)
  t.same(lost, [], `all ${acknowledged.length} acknowledged posts are in the database after the crash`)
  const bodies = rows.map((row) => row.body)
  t.equal(new Set(bodies).size, bodies.length, 'a retried post was posted once, whatever happened to the first try')

  const { rows: [thread] } = await client.query<{ last_seq: number }>('select last_seq from threads where id = $1', [threadId])
  await reader.reach(thread!.last_seq)
  t.same(reader.events.map((e) => e.seq), oneTo(thread!.last_seq), 'a reader connected all along saw every event once, in order')
  t.same(reader.events.filter((e) => e.type === 'post.created').map((e) => e.post?.body), bodies, 'and every post')
})
