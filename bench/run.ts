// npm run bench: prints Sitrep's figures beside baselines measured in the same
// run, and writes them to bench/results/latest.json. Method: ../shared/BENCHMARKING.md
// (server on core 0, load on core 1, baseline measured alongside).
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { connectDatabase } from '../src/db/connect.ts'
import { migrateToLatest } from '../src/db/migrate.ts'
import { createApiToken } from '../src/domain/tokens.ts'
import { createUser } from '../src/domain/users.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000)
const HELD = Number(process.env.BENCH_HELD_SOCKETS ?? 18_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const PER_CLIENT = 9_000
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`)

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
    const onMessage = (message: { kind: string }) => {
      if (message.kind !== kind) return
      child.off('message', onMessage)
      resolve(message as T)
    }
    child.on('message', onMessage)
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before "${kind}"`)))
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

async function measureFanOut (url: string, match: string, trigger: () => Promise<void>): Promise<FanOut> {
  const clients = await openClients(url, SOCKETS, match)
  await fanOutRound(clients, trigger) // warm-up
  const rounds: { latencies: number[] }[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const before = cpuBusy()
    const round = await fanOutRound(clients, trigger)
    const after = cpuBusy()
    // Two cores: more than 1.9 busy cores means something else ran at the same time.
    const busyCores = 2 * (after.busy - before.busy) / Math.max(1, after.total - before.total)
    if (busyCores < 1.9 || rounds.length === 0) rounds.push(round)
  }
  await closeClients(clients)
  const pick = (f: (l: number[]) => number) => median(rounds.map((r) => f(r.latencies)))
  return {
    sockets: clients.opened,
    delivered: Math.round(median(rounds.map((r) => r.latencies.length))),
    p50: pick((l) => percentile(l, 50)),
    p99: pick((l) => percentile(l, 99)),
    max: pick((l) => l.at(-1) ?? NaN),
    rounds: rounds.length
  }
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

async function main (): Promise<void> {
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
    await database.close()

    // The floor: bare ws, same clients, same machine, same run.
    const floor = node(0, 'bench/ws-floor.ts', { PORT: '3901' })
    children.push(floor)
    await waitForHttp('http://127.0.0.1:3901/')
    console.log(`floor: bare ws broadcast of 1 KB to ${SOCKETS} sockets...`)
    const floorFigures = await measureFanOut('ws://127.0.0.1:3901/', '', async () => { await fetch('http://127.0.0.1:3901/', { method: 'POST' }) })
    floor.kill()
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
      }, GC_FLAGS)
      children.push(server)
      await waitForHttp('http://127.0.0.1:3900/readyz')
      return server
    }
    const stopServer = (server: ChildProcess) => new Promise<void>((resolve) => {
      server.once('exit', () => resolve())
      server.kill('SIGTERM')
    })
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
    console.log(`sitrep: one update to ${SOCKETS} sockets...`)
    const sitrepFigures = await measureFanOut(live, '"post.created"', post)

    await stopServer(server)
    console.log(`sitrep: memory with ${HELD} idle sockets...`)
    const memory = await heldSocketsMemory(startServer, live)
    const held = memory
    const perSocketKiB = memory.perSocketKiB
    const results = {
      date: new Date().toISOString(),
      machine: { cores: 2, note: 'server on core 0, load generators on core 1; PostgreSQL shares the machine' },
      fanOut: {
        floor: floorFigures,
        sitrep: sitrepFigures,
        p99Ratio: sitrepFigures.p99 / floorFigures.p99,
        target: 'sitrep p99 <= 1.25 x floor p99 at 10,000 sockets'
      },
      heldSockets: { sitrep: memory, floor: floorMemory, target: '18,000 sockets at <= 8 KB each' }
    }
    mkdirSync(new URL('results/', import.meta.url), { recursive: true })
    writeFileSync(new URL('results/latest.json', import.meta.url), JSON.stringify(results, null, 2) + '\n')

    const row = (figure: string, target: string, measured: string, ratio: string) => console.log(`${figure.padEnd(40)} ${target.padEnd(16)} ${measured.padEnd(34)} ${ratio}`)
    console.log('')
    row('figure', 'target', 'measured', 'ratio')
    row(`bare ws floor, ${floorFigures.sockets} sockets`, '-', `p50 ${floorFigures.p50.toFixed(0)} p99 ${floorFigures.p99.toFixed(0)} max ${floorFigures.max.toFixed(0)} ms`, `delivered ${floorFigures.delivered}`)
    row(`live update, ${sitrepFigures.sockets} sockets`, '<= 1.25 x floor', `p50 ${sitrepFigures.p50.toFixed(0)} p99 ${sitrepFigures.p99.toFixed(0)} max ${sitrepFigures.max.toFixed(0)} ms`, `${results.fanOut.p99Ratio.toFixed(2)} x floor p99, delivered ${sitrepFigures.delivered}`)
    row(`idle sockets held`, `${HELD}`, `${held.opened} open, ${held.failed} failed`, '')
    row('memory per idle socket, bare ws', '-', `${floorMemory.perSocketKiB.toFixed(2)} KiB`, `${floorMemory.opened} sockets`)
    row('memory per idle socket', '<= 8 KB', `${perSocketKiB.toFixed(2)} KiB`, `${(perSocketKiB / 8).toFixed(2)} x target, ${(perSocketKiB / floorMemory.perSocketKiB).toFixed(2)} x bare ws`)
    console.log('\nwritten to bench/results/latest.json')
  } finally {
    for (const child of children) child.kill()
    await sleep(500)
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {})
    await admin.end()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
