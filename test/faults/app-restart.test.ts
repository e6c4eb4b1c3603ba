import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import { serverBinariesAvailable, startCluster } from '../helpers/cluster.ts'
import { type Reader, oneTo, startReader } from '../helpers/reader.ts'
import { type ServerProcess, call, makeAccount, pause, startServer, waitUntil } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  const READERS = 4

  const cluster = await startCluster(t)
  const databaseUrl = await cluster.createDatabase('sitrep')
  // Two instances on one database, as behind a load balancer.
  const [first, second] = await Promise.all([startServer(t, databaseUrl), startServer(t, databaseUrl)])
  const tech = await makeAccount(databaseUrl, 'technician', 'day@example.org')
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(() => client.end().catch(() => {}))

  /** What the database holds for a thread: its last seq and its posts' bodies in order. */
  const stored = async (threadId: number) => {
    const { rows: [thread] } = await client.query<{ last_seq: number }>('select last_seq from threads where id = $1', [threadId])
    const { rows } = await client.query<{ body: string }>('select body from posts where thread_id = $1 order by id', [threadId])
    return { lastSeq: thread!.last_seq, bodies: rows.map((row) => row.body) }
  }

  /**
   * A technician posting updates one after another to the instances in turn;
   * one that does not answer (killed) gets the same post, with the same
   * Idempotency-Key, on the next instance, as a load balancer would send it.
   */
  function startWriter (t: Test, threadId: number, targets: () => ServerProcess[]) {
    const acknowledged: string[] = []
    const refused: string[] = []
    let writing = true
    const done = (async () => {
      for (let i = 1; writing; i++) {
        const body = `Update ${i}: racks ${i * 2} and ${i * 2 + 1} back on power.`
        const key = randomUUID()
        for (let attempt = 0; writing; attempt++) {
          const live = targets().filter((server) => server.alive())
          const server = live[(i + attempt) % live.length]
          const answer = server === undefined
            ? null
            : await call(server.base, 'POST', `/api/v1/threads/${threadId}/posts`, { token: tech.token, json: { body }, headers: { 'idempotency-key': key } }).catch(() => null)
          if (answer?.status === 201) {
            acknowledged.push(body)
            break
          }
          if (answer !== null) refused.push(`${answer.status} ${answer.text.slice(0, 200)}`)
          await pause(50)
        }
        await pause(20)
      }
    })()
    const stop = async () => {
      writing = false
      await done
    }
    t.teardown(stop)
    return { acknowledged, refused, stop }
  }

  const newThread = async (title: string): Promise<number> => {
    const opened = await call(second.base, 'POST', '/api/v1/threads', { token: tech.token, json: { title, body: `${title}: first report.` } })
    if (opened.status !== 201) throw new Error(`opening a thread answered ${opened.status}: ${opened.text}`)
    return opened.json.id
  }

  const readersOn = (t: Test, server: ServerProcess, threadId: number): Reader[] =>
    Array.from({ length: READERS }, () => startReader(t, server.host, threadId, { since: 0 }))

  /** Each reader has every event of the thread once, in order, and every post in the order it was stored. */
  async function assertComplete (t: Test, readers: Reader[], threadId: number, who: string) {
    const { lastSeq, bodies } = await stored(threadId)
    await Promise.all(readers.map((reader) => reader.reach(lastSeq)))
    readers.forEach((reader, i) => {
      t.same(reader.events.map((e) => e.seq), oneTo(lastSeq), `${who} ${i + 1}: seq 1 to ${lastSeq}, no gap, no duplicate`)
      t.same(reader.events.filter((e) => e.type === 'post.created').map((e) => e.post?.body), bodies, `${who} ${i + 1}: every post, in order`)
    })
  }

  t.test('an instance killed (-9) and started again: its readers reconnect and replay exactly what they missed', async (t) => {
    const threadId = await newThread('Cooling failure in hall A')
    const readers = readersOn(t, first, threadId)
    const writer = startWriter(t, threadId, () => [first, second])
    await waitUntil('posts before the kill', () => writer.acknowledged.length >= 8 && readers.every((r) => r.lastSeq() > 4))

    await first.kill()
    const seenAtKill = readers.map((r) => r.lastSeq())
    await waitUntil('posts while the instance is down', () => writer.acknowledged.length >= 20)
    const whileDown = await stored(threadId)
    t.ok(whileDown.lastSeq > Math.max(...seenAtKill), 'its readers miss what is posted while it is down')

    await first.start()
    await waitUntil('posts after the restart', () => writer.acknowledged.length >= 28)
    await writer.stop()

    t.ok(readers.every((r) => r.connections() >= 2), 'every reader reconnected by itself')
    await assertComplete(t, readers, threadId, 'reader')
    const { bodies } = await stored(threadId)
    t.same(writer.acknowledged.filter((body) => !bodies.includes(body)), [], 'every acknowledged post is stored')
    t.equal(new Set(bodies).size, bodies.length, 'a post resent after the kill was posted once')
    t.same(writer.refused, [], 'no instance refused a post: the one alive took them all')
  })

  t.test('two instances, one killed: readers on the other keep receiving posts without a break', async (t) => {
    const threadId = await newThread('Fibre cut on the north link')
    const onFirst = readersOn(t, first, threadId)
    const onSecond = readersOn(t, second, threadId)
    const writer = startWriter(t, threadId, () => [first, second])
    await waitUntil('posts on both instances', () => writer.acknowledged.length >= 8)

    await first.kill()
    await waitUntil('posts while one instance is down', () => writer.acknowledged.length >= 20)
    await writer.stop()
    // The killed instance stays down: its readers' replay is the test above.
    await assertComplete(t, onSecond, threadId, 'reader on the instance left')
    t.ok(onSecond.every((r) => r.connections() === 1), 'on one connection each, never dropped')
    t.ok(onFirst.every((r) => r.lastSeq() < onSecond[0]!.lastSeq()), 'while the killed instance\'s readers are cut off')
    t.ok(second.alive(), 'the instance left runs on')
  })
}
