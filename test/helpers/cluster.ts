import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { NOT_SHEDDING } from './app.ts'
import { cannotRun } from './skip.ts'

const run = promisify(execFile)

/** The server binaries installed with the distribution's PostgreSQL; PG_BIN points elsewhere. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'

/**
 * Whether this machine has PostgreSQL's server programs, which the tests
 * that crash, restart or replicate a database of their own need. Without
 * them those tests are skipped with a plain reason (`npm test` passes on a
 * machine with no PostgreSQL at all, on the embedded database), except under
 * CI=true, where they are a failure: CI must never pass by running nothing.
 */
export function serverBinariesAvailable (t: Test): boolean {
  const missing = ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup'].filter((program) => !existsSync(join(PG_BIN, program)))
  if (missing.length === 0) return true
  return cannotRun(t, `the tests with a database server of their own did not run: no ${missing.join(', ')} in ${PG_BIN}. Install PostgreSQL's server (\`apt-get install postgresql\`), or set PG_BIN to where its programs are`)
}

export interface ClusterOptions {
  /**
   * fsync on, as in production. `pg_ctl stop -m immediate` kills the server's
   * processes, not the machine: what a commit wrote to the WAL survives it
   * either way (synchronous_commit stays on). fsync is kept on where
   * durability is the point so the server runs exactly as it would in service.
   */
  durable?: boolean
  /**
   * A hot standby of this cluster instead of a new one: copied from it by
   * `pg_basebackup`, then replaying its WAL as it streams, read-only.
   */
  standbyOf?: Cluster
}

export interface Cluster {
  port: number
  /** A URL to one of the cluster's databases, as its superuser. */
  url: (database?: string) => string
  /** A new empty database in the cluster; returns its URL. */
  createDatabase: (name: string) => Promise<string>
  /** Kills the server at once, as a crash would: no checkpoint, connections cut. */
  crash: () => Promise<void>
  /** Starts it again on the same port; it recovers from its WAL first. */
  start: () => Promise<void>
}

/** Runs one statement on the database at `url` and returns its rows. */
export async function sqlOn<R extends Record<string, unknown> = Record<string, unknown>> (url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

/** Waits until the standby has replayed everything its primary has written by now. */
export async function caughtUp (primary: Cluster, standby: Cluster): Promise<void> {
  const [{ lsn }] = await sqlOn<{ lsn: string }>(primary.url(), 'select pg_current_wal_lsn()::text as lsn') as [{ lsn: string }]
  for (let tries = 0; tries < 500; tries++) {
    const [row] = await sqlOn<{ behind: boolean }>(standby.url(), 'select coalesce(pg_last_wal_replay_lsn() < $1::pg_lsn, true) as behind', [lsn])
    if (row?.behind === false) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('the standby did not catch up with its primary within 10 s')
}

interface Account { uid: number, gid: number }

/**
 * initdb and postgres refuse to run as root: as root, they run as the
 * `postgres` system user, in a folder of their own.
 */
function serverAccount (): Account | undefined {
  if (process.getuid?.() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))
  const [, , uid, gid] = line?.split(':') ?? []
  if (uid === undefined || gid === undefined) throw new Error('running as root, but there is no postgres user to run PostgreSQL as')
  return { uid: Number(uid), gid: Number(gid) }
}

/** A port nothing listens on right now. */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * A private PostgreSQL cluster on a free port of 127.0.0.1, in a temporary
 * folder: a test may crash it and start it again without touching anyone
 * else's server. It is stopped and its folder removed when the test ends,
 * pass or fail, and when the process exits first.
 */
export async function startCluster (t: Test, options: ClusterOptions = {}): Promise<Cluster> {
  const account = serverAccount()
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-pg-'))
  const data = join(dir, 'data')
  const log = join(dir, 'server.log')
  if (account !== undefined) chownSync(dir, account.uid, account.gid)
  const asServer = { ...(account !== undefined && account), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } }

  let port = 0
  const stopNow = () => {
    try {
      execFileSync(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...asServer, stdio: 'ignore' })
    } catch {
      // It was not running.
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stopNow)
  t.teardown(() => {
    process.removeListener('exit', stopNow)
    stopNow()
  })

  const pgCtl = async (args: string[]) => {
    try {
      await run(join(PG_BIN, 'pg_ctl'), ['-D', data, ...args], asServer)
    } catch (err) {
      let tail = ''
      try {
        tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')
      } catch {
        // The server did not get as far as its log.
      }
      throw new Error(`pg_ctl ${args.at(-1)} failed: ${(err as Error).message}\n${tail}`)
    }
  }

  const start = async () => {
    const settings = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-k ${dir}`,
      `-c fsync=${options.durable === true ? 'on' : 'off'}`,
      '-c synchronous_commit=on',
      '-c shared_buffers=16MB',
      '-c max_connections=60'
    ].join(' ')
    await pgCtl(['-l', log, '-w', '-t', '60', '-o', settings, 'start'])
  }

  if (options.standbyOf === undefined) {
    await run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], asServer)
  } else {
    // -R: the copy starts as a standby of the primary, streaming from it.
    await run(join(PG_BIN, 'pg_basebackup'), ['-D', data, '-h', '127.0.0.1', '-p', String(options.standbyOf.port), '-U', 'postgres', '-R', '-X', 'stream', '--no-sync', '-c', 'fast'], asServer)
  }
  // Another test may take the port between the look and the start: then another port.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    try {
      await start()
      break
    } catch (err) {
      if (attempt >= 3) throw err
    }
  }

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`
  return {
    get port () { return port },
    url,
    createDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`)
      const client = new pg.Client({ connectionString: url() })
      await client.connect()
      try {
        await client.query(`create database ${name}`)
      } finally {
        await client.end()
      }
      return url(name)
    },
    crash: () => pgCtl(['-m', 'immediate', '-w', 'stop']),
    start
  }
}

/**
 * An app in this process on a database of a private cluster, its clock
 * movable: for the tests that make its cached pages old and crash the
 * database under it.
 */
export async function appOnCluster (t: Test): Promise<{ cluster: Cluster, app: FastifyInstance, clock: () => number, advance: (ms: number) => void }> {
  const cluster = await startCluster(t)
  const databaseUrl = await cluster.createDatabase('sitrep')
  let offset = 0
  const app = await buildApp({ ...loadConfig({ SESSION_SECRET: 'test-secret-that-is-long-enough-for-hmac' }), databaseUrl }, {
    ...NOT_SHEDDING,
    now: () => new Date(Date.now() + offset),
    postingLimits: []
  })
  t.teardown(() => app.close())
  return { cluster, app, clock: () => Date.now() + offset, advance: (ms) => { offset += ms } }
}
