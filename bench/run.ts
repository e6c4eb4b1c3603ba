// npm run bench: prints Sitrep's figures beside baselines measured in the same
// run, and writes them to bench/results/latest.json. Method: ../shared/BENCHMARKING.md
// (server on core 0, load on core 1, baseline measured alongside).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { connectDatabase } from '../src/db/connect.ts'
import { migrateToLatest } from '../src/db/migrate.ts'
import { createSession } from '../src/domain/sessions.ts'
import { createApiToken } from '../src/domain/tokens.ts'
import { createUser } from '../src/domain/users.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000)
const HELD = Number(process.env.BENCH_HELD_SOCKETS ?? 18_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const PER_CLIENT = 9_000
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`)
/** `pages`, `live`, or unset for both; the figures not measured are kept from the previous results. */
const ONLY = process.env.BENCH_ONLY
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5)
const PAGE_ROUNDS = Number(process.env.BENCH_PAGE_ROUNDS ?? 3)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function node (core: number, script: string, env: Record<string, string> = {}, flags: string[] = []): ChildProcess {
  return spawn('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', ...flags, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
}

function nextMessage<T> (child: ChildProcess, kind: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`process exited (${code}) before "${kind}"`))
    const onMessage = (message: { kind: string }) => {
      if (message.kind !== kind) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(message as T)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

async function waitForHttp (url: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await sleep(200)
  }
  throw new Error(`${url} did not answer`)
}

/** Servers measured for memory run with this: a signal makes them collect garbage first. */
const GC_FLAGS = ['--expose-gc', '--import', './bench/gc-on-signal.ts']

/** Node's flags in `npm start` (between `node` and its `--import`): Sitrep is measured as it is run. */
const START_FLAGS = (() => {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  const words = packageJson.scripts.start.split(/\s+/)
  return words.slice(words.indexOf('node') + 1, words.indexOf('--import'))
})()

async function settledRssKiB (server: ChildProcess): Promise<number> {
  for (let i = 0; i < 2; i++) {
    server.kill('SIGUSR2')
    await sleep(1000)
  }
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1])
}

function cpuBusy (): { busy: number, total: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)
  const values = fields.map(Number)
  const idle = values[3]! + values[4]!
  const total = values.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}

/** Cores busy on average, of the machine's two, since `before` (a `cpuBusy()` reading). */
function busyCoresSince (before: { busy: number, total: number }): number {
  const after = cpuBusy()
  return 2 * (after.busy - before.busy) / Math.max(1, after.total - before.total)
}

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50)

interface Clients { children: ChildProcess[], opened: number, failed: number }

async function openClients (url: string, count: number, match: string): Promise<Clients> {
  const children: ChildProcess[] = []
  let opened = 0
  let failed = 0
  for (let i = 0; i < count; i += PER_CLIENT) {
    const child = node(1, 'bench/live-clients.ts')
    children.push(child)
    const done = nextMessage<{ opened: number, failed: number }>(child, 'opened')
    child.send({ kind: 'open', url, count: Math.min(PER_CLIENT, count - i), addresses: ADDRESSES, match })
    const result = await done
    opened += result.opened
    failed += result.failed
  }
  return { children, opened, failed }
}

async function closeClients (clients: Clients): Promise<void> {
  await Promise.all(clients.children.map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.send({ kind: 'close' })
  })))
}

/** One broadcast: latencies in ms from just before `trigger` to each socket's receipt. */
async function fanOutRound (clients: Clients, trigger: () => Promise<void>): Promise<{ latencies: number[] }> {
  for (const child of clients.children) child.send({ kind: 'arm' })
  await sleep(300)
  const start = process.hrtime.bigint()
  await trigger()
  await sleep(Math.max(2000, clients.opened / 5))
  const latencies: number[] = []
  for (const child of clients.children) {
    const reply = nextMessage<{ receipts: string[] }>(child, 'receipts')
    child.send({ kind: 'collect' })
    for (const receipt of (await reply).receipts) latencies.push(Number(BigInt(receipt) - start) / 1e6)
  }
  return { latencies: latencies.sort((a, b) => a - b) }
}

interface FanOut { sockets: number, delivered: number, p50: number, p99: number, max: number, rounds: number }

interface FanOutTarget { url: string, match: string, trigger: () => Promise<void> }

/**
 * Fan-out rounds for each target in turn (A B, then B A, and so on), each
 * holding its sockets throughout: a machine that slows down for a while slows
 * each alike, where one measured after the other would meet another machine.
 */
async function measureFanOuts (targets: FanOutTarget[]): Promise<FanOut[]> {
  const clients: Clients[] = []
  for (const target of targets) clients.push(await openClients(target.url, SOCKETS, target.match))
  for (const [i, target] of targets.entries()) await fanOutRound(clients[i]!, target.trigger) // warm-up
  const rounds = targets.map(() => [] as Array<{ latencies: number[] }>)
  for (let i = 0; i < ROUNDS; i++) {
    const order = [...targets.keys()]
    if (i % 2 === 1) order.reverse()
    for (const t of order) {
      const before = cpuBusy()
      const round = await fanOutRound(clients[t]!, targets[t]!.trigger)
      // Two cores: more than 1.9 busy cores means something else ran at the same time.
      if (busyCoresSince(before) < 1.9 || rounds[t]!.length === 0) rounds[t]!.push(round)
    }
  }
  for (const each of clients) await closeClients(each)
  return rounds.map((kept, t) => {
    const pick = (f: (l: number[]) => number) => median(kept.map((r) => f(r.latencies)))
    return {
      sockets: clients[t]!.opened,
      delivered: Math.round(median(kept.map((r) => r.latencies.length))),
      p50: pick((l) => percentile(l, 50)),
      p99: pick((l) => percentile(l, 99)),
      max: pick((l) => l.at(-1) ?? NaN),
      rounds: kept.length
    }
  })
}

/** Server memory per idle socket: RSS with HELD sockets open minus RSS before, in a fresh process. */
async function heldSocketsMemory (start: () => Promise<ChildProcess>, url: string) {
  const server = await start()
  const rssBeforeKiB = await settledRssKiB(server)
  const held = await openClients(url, HELD, '')
  const rssAfterKiB = await settledRssKiB(server)
  await closeClients(held)
  await new Promise<void>((resolve) => {
    server.once('exit', () => resolve())
    server.kill('SIGTERM')
  })
  return { opened: held.opened, failed: held.failed, rssBeforeKiB, rssAfterKiB, perSocketKiB: (rssAfterKiB - rssBeforeKiB) / Math.max(1, held.opened) }
}


interface Load { rps: number, p50: number, p99: number, non2xx: number, errors: number, bytesPerRequest: number }
interface LoadFigure { rps: number, p50: number, p99: number, worst: number, min: number, max: number, non2xx: number, bytesPerRequest: number, rounds: number }

const READER = { 'accept-encoding': 'br, gzip', connection: 'keep-alive' }

interface Shape { connections: number, pipelining: number }
const READERS: Shape = { connections: 100, pipelining: 10 }

/** A load generator on core 1: one run at a time. */
interface Loader {
  name: string
  run: (url: string, headers: Record<string, string>, seconds: number, shape: Shape) => Promise<Load>
  stop: () => Promise<void>
}

function hasWrk (): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (err) {
    // wrk prints its version and exits 1; only a missing program is an error here.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

/**
 * wrk (C, Debian's package) when it is installed: autocannon, in JavaScript on
 * one core, tops out near 9,000 answers a second for a 5 KB page, below what
 * the server can do, so it would measure itself.
 */
function startLoader (children: ChildProcess[]): Loader {
  if (hasWrk()) {
    return {
      name: 'wrk 1 thread, bench/pipeline.lua',
      run: (url, headers, seconds, shape) => new Promise((resolve, reject) => {
        const args = ['-c', '1', 'wrk', '-t1', `-c${shape.connections}`, `-d${seconds}s`, '--latency', '-s', 'bench/pipeline.lua',
          ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]), url, '--', String(shape.pipelining)]
        const child = spawn('taskset', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
        children.push(child)
        let out = ''
        child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
        child.once('exit', (code) => {
          const line = out.split('\n').find((l) => l.startsWith('{'))
          if (code !== 0 || line === undefined) return reject(new Error(`wrk failed (${code}): ${out}`))
          const w = JSON.parse(line) as { requests: number, durationUs: number, bytes: number, non2xx3xx: number, errors: number, p50Us: number, p99Us: number }
          const seconds = w.durationUs / 1e6
          resolve({
            // Answers a reader can use: a shed 503 or an error is not one; a 304 is.
            rps: (w.requests - w.non2xx3xx) / seconds,
            p50: w.p50Us / 1000,
            p99: w.p99Us / 1000,
            non2xx: w.non2xx3xx,
            errors: w.errors,
            bytesPerRequest: w.bytes / Math.max(1, w.requests)
          })
        })
      }),
      stop: async () => {}
    }
  }
  const child = node(1, 'bench/load.ts')
  children.push(child)
  return {
    name: 'autocannon (install wrk for figures the load generator does not cap)',
    run: async (url, headers, seconds, shape) => {
      const result = nextMessage<Load & { error?: string }>(child, 'result')
      child.send({ kind: 'run', url, headers, seconds, ...shape })
      const answer = await result
      if (answer.error !== undefined) throw new Error(answer.error)
      return answer
    },
    stop: () => stopChild(child)
  }
}

/**
 * A reader arriving while the load generator saturates the server: one request
 * at a time, every 20 ms, on a connection of its own, timed here. wrk times a
 * connection's whole pipelined batch, and its percentiles come out as 0 when
 * its correction for coordinated omission moves samples below the minimum, so
 * readers' latencies are this probe's.
 */
function probe (url: string, headers: Record<string, string>): () => Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const latencies: number[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const started = performance.now()
      const status = await new Promise<number>((resolve) => {
        const request = http.get(url, { agent, headers }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        request.on('error', () => resolve(0))
      })
      if (status === 200 || status === 304) latencies.push(performance.now() - started)
      await sleep(20)
    }
  })()
  return async () => {
    running = false
    await loop
    agent.destroy()
    return latencies.sort((a, b) => a - b)
  }
}

type Run = Load & { probed: number[] }
type During = () => () => Promise<unknown>

/** One measured run, with the probe beside a saturating load; `busy` when both cores were busy with something else too. */
async function measuredRun (loader: Loader, url: string, headers: Record<string, string>, during: During | undefined, shape: Shape, seconds = LOAD_SECONDS): Promise<Run & { busy: boolean }> {
  const before = cpuBusy()
  const stop = during?.()
  // Beside a light load, the probe's requests would be a share of what is measured.
  const stopProbe = shape === READERS ? probe(url, headers) : undefined
  const run = await loader.run(url, headers, seconds, shape)
  const probed = await stopProbe?.() ?? []
  await stop?.()
  return { ...run, probed, busy: busyCoresSince(before) >= 1.97 }
}

/** A run while both cores were busy with something else is thrown away, unless it would be the only one. */
function keep (runs: Run[], run: Run & { busy: boolean }): void {
  if (!run.busy || runs.length === 0) runs.push(run)
}

/** Medians over runs; readers' latencies from the probe's samples of every run together. */
function summarise (runs: Run[]): LoadFigure {
  const rps = runs.map((r) => r.rps)
  const probed = runs.flatMap((r) => r.probed).sort((a, b) => a - b)
  return {
    rps: median(rps),
    min: Math.min(...rps),
    max: Math.max(...rps),
    // A p99 of one round's 250 samples would be its third-worst sample.
    p50: probed.length > 0 ? percentile(probed, 50) : median(runs.map((r) => r.p50)),
    p99: probed.length > 0 ? percentile(probed, 99) : median(runs.map((r) => r.p99)),
    worst: probed.at(-1) ?? NaN,
    non2xx: Math.max(...runs.map((r) => r.non2xx)),
    bytesPerRequest: median(runs.map((r) => r.bytesPerRequest)),
    rounds: runs.length
  }
}

/** A warm-up, then PAGE_ROUNDS measured runs (a run while both cores were busy with something else is thrown away); medians. */
async function measureLoad (loader: Loader, url: string, headers: Record<string, string>, during?: During, shape = READERS): Promise<LoadFigure> {
  await loader.run(url, headers, 2, shape)
  const runs: Run[] = []
  for (let i = 0; i < PAGE_ROUNDS; i++) {
    keep(runs, await measuredRun(loader, url, headers, during, shape))
  }
  return summarise(runs)
}

/**
 * Readers without and with `during` beside them, in runs taken in turn
 * (without, with; then with, without; ...), as the fan-out rounds are: a
 * machine that slows down for a minute slows both alike, where one measured
 * minutes after the other would meet another machine.
 */
async function measureBeside (loader: Loader, url: string, headers: Record<string, string>, during: During): Promise<{ without: LoadFigure, beside: LoadFigure, first: LoadFigure }> {
  // The warm-up has `during` beside the readers too, and its figure is kept
  // apart: the first requests of a new kind deoptimise the functions V8
  // compiled for the readers' alone (Node's HTTP server among them), and the
  // first flood a server sees costs its readers most (bench/README.md).
  const first = summarise([await measuredRun(loader, url, headers, during, READERS, 2)])
  const without: Run[] = []
  const beside: Run[] = []
  for (let i = 0; i < PAGE_ROUNDS; i++) {
    const order = i % 2 === 0 ? [false, true] : [true, false]
    for (const withIt of order) {
      keep(withIt ? beside : without, await measuredRun(loader, url, headers, withIt ? during : undefined, READERS))
    }
  }
  return { without: summarise(without), beside: summarise(beside), first }
}

interface Target { url: string, headers: Record<string, string> }

/**
 * Several servers' readers in rounds taken in turn (a, b, c; then c, b, a;
 * ...), as the fan-out rounds are: each figure's neighbours in time are the
 * others', so a ratio of two of them holds while the machine speeds up or
 * slows down. A round during which both cores were busy with something else
 * is thrown away whole, unless it would be the only one.
 */
async function measureInTurn (loader: Loader, targets: Target[]): Promise<LoadFigure[]> {
  for (const target of targets) await loader.run(target.url, target.headers, 2, READERS)
  const runs: Run[][] = targets.map(() => [])
  for (let i = 0; i < PAGE_ROUNDS; i++) {
    const order = targets.map((_, index) => index)
    if (i % 2 === 1) order.reverse()
    const round: Array<Run & { busy: boolean }> = []
    for (const index of order) round[index] = await measuredRun(loader, targets[index]!.url, targets[index]!.headers, undefined, READERS)
    if (round.some((run) => run.busy) && runs[0]!.length > 0) continue
    round.forEach((run, index) => runs[index]!.push(run))
  }
  return runs.map(summarise)
}

const stopChild = (child: ChildProcess) => new Promise<void>((resolve) => {
  if (child.exitCode !== null) return resolve()
  child.once('exit', () => resolve())
  child.kill('SIGTERM')
})

/** The page figures: Sitrep's thread page and its neighbours, each as a ratio to hello-world in the same run. */
async function runPages (databaseUrl: string, token: string, sessionCookie: string, children: ChildProcess[]) {
  const loader = startLoader(children)
  // 200 sign-in attempts a second, each on a new connection, as a flood's would
  // be, from a process of its own (bench/flood.ts); the answers of every round added up.
  const flooder = node(1, 'bench/flood.ts')
  children.push(flooder)
  await nextMessage(flooder, 'ready')
  const loginFlood = (port: number, statuses: Record<string, number>) => () => {
    flooder.send({ kind: 'start', port, path: '/api/v1/tokens', body: JSON.stringify({ email: 'bench@example.org', password: 'not the password' }), perSecond: 200, addresses: ADDRESSES })
    return async () => {
      const answer = nextMessage<{ statuses: Record<string, number> }>(flooder, 'statuses')
      flooder.send({ kind: 'stop' })
      for (const [status, count] of Object.entries((await answer).statuses)) statuses[status] = (statuses[status] ?? 0) + count
    }
  }
  const loginStatuses: Record<string, number> = {}
  // Hello-world runs from first to last: its rounds are taken in turn with
  // those of the cached page, its 304 and their floor.
  const helloServer = node(0, 'bench/hello.ts', { PORT: '3902' })
  children.push(helloServer)
  await waitForHttp('http://127.0.0.1:3902/')
  const hello: Target = { url: 'http://127.0.0.1:3902/', headers: READER }
  // What the flood's connections alone cost a server: the same flood at hello-world (which answers it 404).
  console.log('hello-world without and beside the same flood of new connections, in turn...')
  const helloFlooded = await measureBeside(loader, hello.url, hello.headers, loginFlood(3902, {}))

  const sitrep = async (port: number, env: Record<string, string>) => {
    const server = node(0, 'src/server.ts', {
      PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn',
      SESSION_SECRET: 'bench-session-secret-that-is-long-enough', ...env
    }, START_FLAGS)
    children.push(server)
    await waitForHttp(`http://127.0.0.1:${port}/readyz`)
    return server
  }
  const server = await sitrep(3900, {})
  const base = 'http://127.0.0.1:3900'
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const thread = await (await fetch(`${base}/api/v1/threads`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'Datacenter DC-2 fire', body: 'Fire alarm in room 3; power cut.' }) })).json() as { id: number }
  const text = 'Generators are running and the cooling is back in room 3; the next racks come up in order. '.repeat(3)
  let posted = 0
  const post = async () => {
    const started = performance.now()
    const res = await fetch(`${base}/api/v1/threads/${thread.id}/posts`, { method: 'POST', headers: auth, body: JSON.stringify({ body: `${text} #${++posted}` }) })
    if (res.status !== 201) throw new Error(`posting answered ${res.status}`)
    await res.arrayBuffer()
    return performance.now() - started
  }
  for (let i = 1; i < 200; i++) await post()
  // The planner's statistics, as autovacuum keeps them within a minute of
  // such writes; this machine's PostgreSQL runs without it, and a plan made
  // blind doubles the database's work per page read without the page cache.
  const analyst = new pg.Client({ connectionString: databaseUrl })
  await analyst.connect()
  await analyst.query('analyze')
  await analyst.end()
  const page = `${base}/t/${thread.id}`
  const first = await fetch(page, { headers: { 'accept-encoding': 'identity' } })
  const htmlBytes = (await first.text()).length
  // The ETag of the encoding the readers get: each encoding has its own.
  const readers = await fetch(page, { headers: READER })
  await readers.arrayBuffer()
  const etag = readers.headers.get('etag') ?? ''
  const revalidated = await fetch(page, { headers: { ...READER, 'if-none-match': etag } })
  if (revalidated.status !== 304) throw new Error(`the page's ETag ${etag} answered ${revalidated.status}, not 304`)

  const brBytes = await bodyBytes(page, { 'accept-encoding': 'br' })

  // The floor: what a bare Fastify route does with an answer of the same size and headers.
  const floorServer = node(0, 'bench/page-floor.ts', { PORT: '3904', BODY_BYTES: String(brBytes) })
  children.push(floorServer)
  await waitForHttp('http://127.0.0.1:3904/')
  console.log('hello-world, the cached thread page (200 posts), its 304, and their floor, in turn...')
  const floorUrl = 'http://127.0.0.1:3904/'
  const [helloFigure, cached, revalidation, floorPage, floorNotModified] = await measureInTurn(loader, [
    hello,
    { url: page, headers: READER },
    { url: page, headers: { ...READER, 'if-none-match': etag } },
    { url: floorUrl, headers: READER },
    { url: floorUrl, headers: { ...READER, 'if-none-match': '"floor-floor-floor-floor-floor"' } }
  ]) as [LoadFigure, LoadFigure, LoadFigure, LoadFigure, LoadFigure]
  await stopChild(floorServer)
  await stopChild(helloServer)

  console.log('sitrep: technician posts while readers saturate the cached page...')
  const postLatencies: number[] = []
  const posting = () => {
    let running = true
    const loop = (async () => {
      await sleep(500)
      while (running) {
        postLatencies.push(await post())
        await sleep(100)
      }
    })()
    return async () => { running = false; await loop }
  }
  const cachedWhilePosting = await measureLoad(loader, page, READER, posting)
  postLatencies.sort((a, b) => a - b)

  console.log('sitrep: readers without and beside a login flood of 200 attempts/s, in turn...')
  const duringFlood = await measureBeside(loader, page, READER, loginFlood(3900, loginStatuses))

  // Ten readers, one request at a time each: what one answer costs, for the
  // answers too dear to saturate the server with a thousand in flight.
  const ONE_AT_A_TIME: Shape = { connections: 10, pipelining: 1 }
  // What a signed-in reader's page costs beyond an anonymous one's: both at this load.
  console.log('sitrep: the cached page, 10 readers one request at a time...')
  const anonymous = await measureLoad(loader, page, READER, undefined, ONE_AT_A_TIME)
  console.log('sitrep: the page for a signed-in customer...')
  // As a browser: the session, and the CSRF secret its first page set.
  const firstSignedIn = await fetch(page, { headers: { cookie: `sitrep_session=${sessionCookie}` } })
  await firstSignedIn.arrayBuffer()
  const csrfCookie = firstSignedIn.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('sitrep_csrf='))
  if (csrfCookie === undefined) throw new Error('the signed-in page set no CSRF cookie')
  const signedIn = await measureLoad(loader, page, { ...READER, cookie: `sitrep_session=${sessionCookie}; ${csrfCookie}` }, undefined, ONE_AT_A_TIME)
  await stopChild(server)

  // The thread read from the database and the page rendered for each request.
  const uncachedServer = await sitrep(3903, { PAGE_CACHE: 'off' })
  console.log('sitrep: the same page with the page cache off...')
  const uncached = await measureLoad(loader, `http://127.0.0.1:3903/t/${thread.id}`, READER, undefined, ONE_AT_A_TIME)
  await stopChild(uncachedServer)

  await loader.stop()
  const helloRps = helloFigure.rps
  return {
    method: `${loader.name}, 100 connections, pipelining 10, Accept-Encoding: br, gzip, keep-alive; server on core 0, load on core 1`,
    htmlBytes,
    brBytes,
    hello: { ...helloFigure, what: 'rounds taken in turn with the cached page, its 304 and their floor' },
    floor: { page: floorPage, notModified: floorNotModified, what: 'a bare Fastify route: the same number of bytes and the same headers' },
    cachedPage: { ...cached, ratio: cached.rps / helloRps, floorRatio: cached.rps / floorPage.rps, target: '>= 0.7 x hello-world' },
    revalidation: { ...revalidation, ratio: revalidation.rps / helloRps, floorRatio: revalidation.rps / floorNotModified.rps, target: '>= 1.0 x hello-world' },
    uncachedPage: { ...uncached, load: '10 connections, no pipelining', ratio: uncached.rps / helloRps, target: '>= 0.15 x hello-world' },
    signedIn: { ...signedIn, load: '10 connections, no pipelining', ratio: signedIn.rps / helloRps, perAnonymous: signedIn.rps / anonymous.rps, anonymous },
    postWhileReading: {
      posts: postLatencies.length,
      p50: percentile(postLatencies, 50),
      p99: percentile(postLatencies, 99),
      max: postLatencies.at(-1) ?? NaN,
      readers: cachedWhilePosting,
      target: 'p99 <= 100 ms'
    },
    loginFlood: {
      attemptsPerSecond: 200,
      answers: loginStatuses,
      readers: duringFlood.beside,
      readersWithout: duringFlood.without,
      p99Ratio: duringFlood.beside.p99 / duringFlood.without.p99,
      target: "readers' p99 within 1.2 x without",
      firstFlood: { what: "the warm-up: the first 2 s of the first flood this server saw, beside the readers", readers: duringFlood.first },
      floor: {
        what: 'hello-world beside the same flood (answered 404): what 200 new connections a second cost any server here',
        readers: helloFlooded.beside,
        readersWithout: helloFlooded.without,
        p99Ratio: helloFlooded.beside.p99 / helloFlooded.without.p99,
        firstFlood: helloFlooded.first
      }
    }
  }
}

type PageFigures = Awaited<ReturnType<typeof runPages>>

/** The size of a page's body as sent, not decoded. */
function bodyBytes (url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => { bytes += chunk.length })
      res.on('end', () => resolve(bytes))
    }).on('error', reject)
  })
}

function printPages (pages: PageFigures): void {
  const row = (figure: string, target: string, measured: string, ratio: string) => console.log(`${figure.padEnd(44)} ${target.padEnd(16)} ${measured.padEnd(40)} ${ratio}`)
  const rps = (f: LoadFigure) => `${f.rps.toFixed(0)} req/s (${f.min.toFixed(0)}-${f.max.toFixed(0)}), p99 ${f.p99.toFixed(1)} ms`
  row('hello-world (rounds in turn with the next three)', '-', rps(pages.hello), 'baseline')
  row(`cached thread page, 200 posts (${Math.round(pages.htmlBytes / 1024)} KB)`, '>= 0.7 x', rps(pages.cachedPage), `${pages.cachedPage.ratio.toFixed(2)} x; ${pages.cachedPage.floorRatio.toFixed(2)} x floor`)
  row('304 revalidation', '>= 1.0 x', rps(pages.revalidation), `${pages.revalidation.ratio.toFixed(2)} x; ${pages.revalidation.floorRatio.toFixed(2)} x floor`)
  row(`floor: bare route, same ${Math.round(pages.brBytes / 1024)} KB and headers`, '-', rps(pages.floor.page), `${(pages.floor.page.rps / pages.hello.rps).toFixed(2)} x; its 304: ${pages.floor.notModified.rps.toFixed(0)} req/s, ${(pages.floor.notModified.rps / pages.hello.rps).toFixed(2)} x`)
  row('same page, page cache off (10 conn., no pipelining)', '>= 0.15 x', rps(pages.uncachedPage), `${pages.uncachedPage.ratio.toFixed(2)} x, ${pages.uncachedPage.non2xx} not 2xx/304`)
  row('same page, signed-in customer (10 conn., no pipelining)', 'small extra', rps(pages.signedIn), `${pages.signedIn.perAnonymous.toFixed(2)} x anonymous at this load (${pages.signedIn.anonymous.rps.toFixed(0)} req/s), ${pages.signedIn.non2xx} not 2xx`)
  row('technician POST while readers saturate', 'p99 <= 100 ms', `p50 ${pages.postWhileReading.p50.toFixed(1)} p99 ${pages.postWhileReading.p99.toFixed(1)} max ${pages.postWhileReading.max.toFixed(1)} ms`, `${pages.postWhileReading.posts} posts`)
  row('readers during a login flood, 200/s', 'p99 <= 1.2 x', `p99 ${pages.loginFlood.readers.p99.toFixed(1)} ms (without ${pages.loginFlood.readersWithout.p99.toFixed(1)})`, `${pages.loginFlood.p99Ratio.toFixed(2)} x, answers ${JSON.stringify(pages.loginFlood.answers)}`)
  const first = pages.loginFlood.firstFlood.readers
  row('  the first 2 s of the first flood (warm-up)', '-', `p99 ${first.p99.toFixed(1)}, worst ${first.worst.toFixed(1)} ms`, `hello-world's: worst ${pages.loginFlood.floor.firstFlood.worst.toFixed(1)} ms`)
  const floodFloor = pages.loginFlood.floor
  row('floor: hello-world beside the same flood', '-', `p99 ${floodFloor.readers.p99.toFixed(1)} ms (without ${floodFloor.readersWithout.p99.toFixed(1)})`, `${floodFloor.p99Ratio.toFixed(2)} x; Sitrep ${(pages.loginFlood.p99Ratio / floodFloor.p99Ratio).toFixed(2)} x this floor`)
}

async function main (): Promise<void> {
  // This process sends load too (the reader probe, the technician's posts, the
  // sign-in flood): it belongs on the load generators' core, not the server's.
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
  const dbName = `sitrep_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  await admin.query(`create database ${dbName}`)
  const url = new URL(SERVER_URL)
  url.pathname = `/${dbName}`
  const databaseUrl = url.toString()
  const children: ChildProcess[] = []
  try {
    const database = await connectDatabase({ databaseUrl, dataDir: 'memory://' })
    await migrateToLatest(database.db)
    const tech = await createUser(database.db, { email: 'bench@example.org', name: 'Bench Lead', password: 'bench password', role: 'technician', shift: 'day' })
    const token = await createApiToken(database.db, tech.id)
    const customer = await createUser(database.db, { email: 'reader@example.org', name: 'Bench Reader', password: 'bench password', role: 'customer', shift: null })
    const { token: sessionCookie } = await createSession(database.db, customer.id, new Date())
    await database.close()

    const resultsFile = new URL('results/latest.json', import.meta.url)
    const previous = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown> : {}
    const pages = ONLY === 'live' ? undefined : await runPages(databaseUrl, token, sessionCookie, children)
    const live = ONLY === 'pages' ? undefined : await runLive(databaseUrl, token, children)
    const results = {
      ...previous,
      date: new Date().toISOString(),
      machine: { cores: 2, note: 'server on core 0, load generators on core 1; PostgreSQL shares the machine' },
      ...(pages !== undefined && { pages }),
      ...(live !== undefined && { fanOut: live.fanOut, heldSockets: live.heldSockets })
    }
    mkdirSync(new URL('results/', import.meta.url), { recursive: true })
    writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n')
    console.log('')
    if (pages !== undefined) printPages(pages)
    if (live !== undefined) live.print()
    console.log('\nwritten to bench/results/latest.json')
  } finally {
    for (const child of children) child.kill()
    await sleep(500)
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {})
    await admin.end()
  }
}

/** The live figures: fan-out to SOCKETS sockets beside the bare ws floor, and memory per idle socket. */
async function runLive (databaseUrl: string, token: string, children: ChildProcess[]) {
  const floorMemory = await heldSocketsMemory(async () => {
    const fresh = node(0, 'bench/ws-floor.ts', { PORT: '3901' }, GC_FLAGS)
    children.push(fresh)
    await waitForHttp('http://127.0.0.1:3901/')
    return fresh
  }, 'ws://127.0.0.1:3901/')

  const startServer = async () => {
    const server = node(0, 'src/server.ts', {
      PORT: '3900', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn',
      SESSION_SECRET: randomBytes(32).toString('hex'), LIVE_SOCKETS_PER_IP: '100000'
    }, [...START_FLAGS, ...GC_FLAGS])
    children.push(server)
    await waitForHttp('http://127.0.0.1:3900/readyz')
    return server
  }
  // The floor: bare ws, the same clients, on the same core, measured round by round in turn with Sitrep.
  const floor = node(0, 'bench/ws-floor.ts', { PORT: '3901' })
  children.push(floor)
  await waitForHttp('http://127.0.0.1:3901/')
  const server = await startServer()
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const thread = await (await fetch('http://127.0.0.1:3900/api/v1/threads', { method: 'POST', headers: auth, body: JSON.stringify({ title: 'Bench incident', body: 'Start.' }) })).json() as { id: number }
  const live = `ws://127.0.0.1:3900/api/v1/threads/${thread.id}/live`
  const body = 'Generators are running and the cooling is back in room 3. '.repeat(7)
  let posted = 0
  const post = async () => {
    const res = await fetch(`http://127.0.0.1:3900/api/v1/threads/${thread.id}/posts`, { method: 'POST', headers: auth, body: JSON.stringify({ body: `${body} #${++posted}` }) })
    if (res.status !== 201) throw new Error(`posting answered ${res.status}`)
  }
  console.log(`floor and sitrep, in turn: a bare ws broadcast of 1 KB, and one update, to ${SOCKETS} sockets each...`)
  const [floorFigures, sitrepFigures] = await measureFanOuts([
    { url: 'ws://127.0.0.1:3901/', match: '"broadcast"', trigger: async () => { await fetch('http://127.0.0.1:3901/', { method: 'POST' }) } },
    { url: live, match: '"post.created"', trigger: post }
  ]) as [FanOut, FanOut]
  await stopChild(server)
  await stopChild(floor)

  console.log(`sitrep: memory with ${HELD} idle sockets...`)
  const memory = await heldSocketsMemory(startServer, live)
  const held = memory
  const perSocketKiB = memory.perSocketKiB
  const fanOut = {
    floor: floorFigures,
    sitrep: sitrepFigures,
    p99Ratio: sitrepFigures.p99 / floorFigures.p99,
    method: 'rounds of the floor and of Sitrep in turn, each holding its sockets throughout; medians over rounds',
    target: 'sitrep p99 <= 1.25 x floor p99 at 10,000 sockets'
  }
  const heldSockets = { sitrep: memory, floor: floorMemory, target: '18,000 sockets at <= 8 KB each' }
  const print = () => {
    const row = (figure: string, target: string, measured: string, ratio: string) => console.log(`${figure.padEnd(44)} ${target.padEnd(16)} ${measured.padEnd(40)} ${ratio}`)
    row(`bare ws floor, ${floorFigures.sockets} sockets`, '-', `p50 ${floorFigures.p50.toFixed(0)} p99 ${floorFigures.p99.toFixed(0)} max ${floorFigures.max.toFixed(0)} ms`, `delivered ${floorFigures.delivered}, ${floorFigures.rounds} rounds`)
    row(`live update, ${sitrepFigures.sockets} sockets`, '<= 1.25 x floor', `p50 ${sitrepFigures.p50.toFixed(0)} p99 ${sitrepFigures.p99.toFixed(0)} max ${sitrepFigures.max.toFixed(0)} ms`, `${fanOut.p99Ratio.toFixed(2)} x floor p99, delivered ${sitrepFigures.delivered}, ${sitrepFigures.rounds} rounds`)
    row('idle sockets held', `${HELD}`, `${held.opened} open, ${held.failed} failed`, '')
    row('memory per idle socket, bare ws', '-', `${floorMemory.perSocketKiB.toFixed(2)} KiB`, `${floorMemory.opened} sockets`)
    row('memory per idle socket', '<= 8 KB', `${perSocketKiB.toFixed(2)} KiB`, `${(perSocketKiB / 8).toFixed(2)} x target, ${(perSocketKiB / floorMemory.perSocketKiB).toFixed(2)} x bare ws`)
  }
  return { fanOut, heldSockets, print }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
