import { connect, createServer } from 'node:net'
import t from 'tap'
import { takeTurns } from '../../src/web/plugins/app/page-cache.ts'

// Cached answers go out for a moment of each turn of the event loop, so that
// a technician's database round trips are not stuck behind a crowd of readers.

/** Holds the process for `ms`, as an answer's work would. */
const busy = (ms: number) => { const until = performance.now() + ms; while (performance.now() < until); }

t.test('every job runs, in the order given, as many per turn as the budget holds', async (t) => {
  const inTurn = takeTurns(1)
  const ran: number[] = []
  // Waits for the last job, not for a time: on a busy machine the turns come late.
  const last = new Promise<void>((resolve) => {
    for (let i = 0; i < 100; i++) inTurn(() => { busy(0.2); ran.push(i); if (i === 99) resolve() })
  })
  t.ok(ran.length >= 1 && ran.length <= 6, `the first few at once (${ran.length}), not the 100`)
  t.same(ran, Array.from({ length: ran.length }, (_, i) => i), 'from the first')
  await last
  t.same(ran, Array.from({ length: 100 }, (_, i) => i), 'the others on the following turns, in order')
})

t.test('jobs that cost nothing run at once, however many', async (t) => {
  const inTurn = takeTurns(1)
  const ran: number[] = []
  for (let i = 0; i < 100; i++) inTurn(() => ran.push(i))
  t.equal(ran.length, 100)
})

t.test('I/O that completes meanwhile is handled between two batches, not after the whole crowd', async (t) => {
  const server = createServer((socket) => socket.pipe(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const { port } = server.address() as { port: number }
  const client = connect(port, '127.0.0.1')
  await new Promise((resolve) => client.once('connect', resolve))
  t.teardown(() => client.destroy())

  const inTurn = takeTurns(0.25)
  const ran: string[] = []
  client.once('data', () => ran.push('reply'))
  client.write('ping')
  // A crowd of slow answers, each holding the process for a moment.
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 200; i++) inTurn(() => { busy(1); ran.push(String(i)); if (i === 199) resolve() })
  })
  const replyAt = ran.indexOf('reply')
  t.ok(replyAt > 0, 'the reply came while the crowd was being served')
  t.ok(replyAt < 100, `the reply was handled early (after ${replyAt} answers of 200), not behind them all`)
})
