import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import pg from 'pg'
import type { Database } from './database.ts'
import { namingPool } from './prepared.ts'

export interface DatabaseHandle {
  db: Kysely<Database>
  /** 'server' with DATABASE_URL, 'embedded' on PGlite. */
  kind: 'server' | 'embedded'
  /** The server's URL, for connections of their own (LISTEN); undefined when embedded. */
  url: string | undefined
  /** The embedded database itself, for its notifications. */
  pglite?: PGlite
  /** Read replicas of the server (`replicaUrls`), for readers' queries (`ReadReplicas`); none when embedded. */
  replicas: Kysely<Database>[]
  /**
   * Runs work that may take long (migrations) on a connection of its own,
   * without the time limits of the requests' pool; on the embedded database,
   * on it as it is.
   */
  unhurried: <T>(work: (db: Kysely<Database>) => Promise<T>) => Promise<T>
  /**
   * Asks the database whether it answers, on a connection of its own: the
   * requests' pool may be busy (posts queued behind a row lock) while the
   * database answers.
   */
  ping: () => Promise<void>
  close: () => Promise<void>
}

export interface ConnectOptions {
  databaseUrl: string | undefined
  /** Where the embedded database keeps its files; 'memory://' keeps nothing. */
  dataDir: string
  poolSize?: number
  /** Read replicas of the server at `databaseUrl`. */
  replicaUrls?: readonly string[]
  onPoolError?: (err: Error) => void
}

// Node's own, for a server that cannot be reached or went away.
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
// PostgreSQL's: 57P01-57P03 a server shutting down, crashed or starting up,
// 53300 no connection slot left; and the requests' time limits
// (`REQUEST_LIMITS`): 57014 a query ended by statement_timeout, 55P03 a lock
// not had within lock_timeout, 25P03 a transaction left idle ended. Class 08
// (connection exceptions) is checked apart.
const SERVER_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55P03', '25P03'])
// pg and pg-pool say these with no code (the last of them, a server silent
// past query_timeout); Kysely the last one, once this instance has closed
// its database as it stops (another instance can answer).
const CLIENT_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Query read timeout|driver has already been destroyed)/

/**
 * A request's time on the primary. A server that stops answering (frozen, a
 * network cut in two), a row lock held by another session, a runaway query:
 * each ends in a 503 the client may try again, not a request hanging as long
 * as the fault lasts. The server ends what it can (statement_timeout,
 * lock_timeout); the client, a server that says nothing at all (query_timeout),
 * and TCP keep-alive finds the connections that died.
 */
const REQUEST_LIMITS = {
  lock_timeout: 3_000,
  statement_timeout: 5_000,
  query_timeout: 6_000,
  idle_in_transaction_session_timeout: 30_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000
} satisfies pg.PoolConfig

/**
 * Whether an error means the database cannot be reached right now, as opposed
 * to a query it refused: the request may be tried again once it is back.
 */
export function isDatabaseUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (NETWORK_ERRORS.has(code) || SERVER_UNAVAILABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  if (CLIENT_MESSAGES.test(err.message)) return true
  // A connection to a host with several addresses fails with one error per address.
  return err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)
}

/**
 * The log of a task run again and again in the background (reading the shift
 * schedule, rendering a kept page again): its failure is said once, and again
 * only after it has worked since, so an outage is a line, not one per try. The
 * database away is said in a word; anything else with its stack.
 */
export function failuresOnce (log: { warn: (obj: object, msg: string) => void, info: (msg: string) => void }, what: string): { failed: (err: unknown) => void, worked: () => void } {
  let failing = false
  return {
    failed: (err: unknown): void => {
      if (failing) return
      failing = true
      const away = isDatabaseAway(err)
      log.warn({ err: away ? (err as Error).message : err }, `could not ${what}; said again once it works`)
    },
    worked: (): void => {
      if (!failing) return
      failing = false
      log.info(`can ${what} again`)
    }
  }
}

// A server that is up refusing a new connection: the database taken offline
// (ALLOW_CONNECTIONS false), dropped or renamed, or the role's password or
// rights changed. Starting, these stop the instance (waiting would not mend
// them); for a request, the database is as away as if it were down.
const CONNECTION_REFUSED = new Set(['3D000', '28000', '28P01'])
// 55000 is said of other states too: this one comes from the check of the
// database at connection (its routine, whatever the server's language).
const NOT_ACCEPTING = 'CheckMyDatabase'

/** Whether a statement gave up waiting for a lock another session holds (lock_timeout), itself or as the cause of another error. */
export function isLockWait (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return (err as { code?: unknown }).code === '55P03' || isLockWait(err.cause)
}

/** Whether a new connection was refused by a server that is up (see `CONNECTION_REFUSED`). */
export function isConnectionRefused (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const { code, routine } = err as { code?: unknown, routine?: unknown }
  return typeof code === 'string' && (CONNECTION_REFUSED.has(code) || (code === '55000' && routine === NOT_ACCEPTING))
}

/** The database away for a request: out of reach, or refusing new connections; to wait out and try again. */
export const isDatabaseAway = (err: unknown): boolean => isDatabaseUnavailable(err) || isConnectionRefused(err)

/** How long `waitForDatabase` waits between tries: soon at first, then every few seconds. */
const FIRST_RETRY_MS = 250
const LATEST_RETRY_MS = 5_000

/**
 * Resolves once the PostgreSQL server at `url` takes a connection and answers
 * a query. While it cannot be reached (down, starting up, out of connection
 * slots: `isDatabaseUnavailable`), it tries again, less often as it goes,
 * telling `onWait` each time; any other refusal (a wrong password, no such
 * database) is thrown at once, as waiting would not mend it.
 */
export async function waitForDatabase (url: string, onWait: (err: Error, waitedMs: number) => void = () => {}): Promise<void> {
  const started = Date.now()
  for (let delay = FIRST_RETRY_MS; ; delay = Math.min(delay * 2, LATEST_RETRY_MS)) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: LATEST_RETRY_MS })
    // A server that goes away while we ask: the query below fails with it.
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('select 1')
      return
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err
      onWait(err as Error, Date.now() - started)
    } finally {
      await client.end().catch(() => {})
    }
    await sleep(delay)
  }
}

export async function connectDatabase (options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined) {
    const url = options.databaseUrl
    const db = serverDatabase(url, { max: options.poolSize ?? 20, connectionTimeoutMillis: 5_000, ...REQUEST_LIMITS }, options.onPoolError)
    // A replica that does not answer soon, or stops answering (a network cut
    // in two, a server frozen), is passed over for the primary: readers must
    // not wait on it. Its slow queries are ended by the server; a silent one by
    // the client, and its dead connections found by TCP keep-alive.
    const replicas = (options.replicaUrls ?? []).map((url) => serverDatabase(url, {
      max: Math.ceil((options.poolSize ?? 20) / 2),
      connectionTimeoutMillis: 1_000,
      statement_timeout: REPLICA_QUERY_MS,
      query_timeout: REPLICA_QUERY_MS + 500,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000
    }, options.onPoolError))
    const probe = serverDatabase(url, { max: 1, connectionTimeoutMillis: 5_000, ...REQUEST_LIMITS }, options.onPoolError)
    const ping = async () => { await sql`select 1`.execute(probe) }
    const close = async () => { await Promise.all([db, probe, ...replicas].map((each) => each.destroy())) }
    const unhurried = async <T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> => {
      // No time limit on its statements; but a lock it waits for is given up
      // soon, as every other session's queries on that table queue behind it.
      const own = serverDatabase(url, { max: 2, connectionTimeoutMillis: 5_000, lock_timeout: REQUEST_LIMITS.lock_timeout, keepAlive: true }, options.onPoolError)
      try {
        return await work(own)
      } finally {
        await own.destroy()
      }
    }
    return { db, kind: 'server', url, replicas, unhurried, ping, close }
  }

  if (options.dataDir.startsWith('memory://')) return await openEmbedded(options.dataDir)

  const pgliteDir = join(options.dataDir, 'pgdata')
  try {
    mkdirSync(pgliteDir, { recursive: true })
  } catch (err) {
    // Said as the variable to change.
    throw new Error(`DATA_DIR: cannot keep the embedded database in ${pgliteDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  const release = lockDataDir(options.dataDir)
  let handle: DatabaseHandle
  try {
    handle = await openEmbedded(pgliteDir)
  } catch (err) {
    release()
    throw err
  }
  return {
    ...handle,
    close: async () => {
      try {
        await handle.close()
      } finally {
        release()
      }
    }
  }
}

/** How long a query may take on a read replica before the primary is asked instead. */
const REPLICA_QUERY_MS = 2_000

/** A pool of connections to the PostgreSQL server at `url`. */
function serverDatabase (url: string, settings: pg.PoolConfig, onPoolError?: (err: Error) => void): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, idleTimeoutMillis: 30_000, ...settings })
  // An idle client that loses its server must not take the process down;
  // the pool replaces it on the next checkout.
  pool.on('error', (err) => onPoolError?.(err))
  // A client checked out of the pool has lost the pool's listener: a server
  // gone mid-request would be an unhandled 'error' event and end the process.
  // The request's own query fails with it, and the pool drops the client when
  // it comes back.
  pool.on('connect', (client) => client.on('error', () => {}))
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: namingPool(pool) }) })
}

async function openEmbedded (dir: string): Promise<DatabaseHandle> {
  const pglite = await PGlite.create(dir)
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  const close = async () => {
    await db.destroy()
    // Kysely hands the database to its driver only on the first query, and
    // closes it only then: one opened and never queried is closed here.
    if (!pglite.closed) await pglite.close()
  }
  const ping = async () => { await sql`select 1`.execute(db) }
  return { db, kind: 'embedded', url: undefined, pglite, replicas: [], unhurried: async (work) => await work(db), ping, close }
}

/** The embedded database's lock file: it holds the pid of the one process using it. */
export const LOCK_FILE = 'pgdata.lock'

/** The lock files this process holds. */
const heldLocks = new Set<string>()

/**
 * PGlite is a single-process database: a second process opening the same files
 * (the server and the admin command line, say) would corrupt them. The lock is
 * a file created exclusively; one left by a process that died is taken over.
 * Returns the function that releases it, also run if the process exits first.
 */
function lockDataDir (dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE)
  for (let attempt = 0; ; attempt++) {
    if (takeLock(file)) break
    if (attempt >= 2) throw new Error(`cannot take the lock ${file}`)
    const holder = lockHolder(file)
    // This process's own number, on a lock it does not hold: its predecessor's
    // in a container restarted, or a process of another container on the same
    // volume (pids repeat across containers). Only the operator can tell which.
    if (holder === process.pid && !heldLocks.has(file)) {
      throw new Error(`the embedded database in ${dataDir} is locked by process ${holder}, which is this process's own number: another container using the same DATA_DIR, or a server that stopped without letting go. If no other process uses it, delete ${file}`)
    }
    if (holder !== undefined && isAlive(holder)) {
      throw new Error(`the embedded database in ${dataDir} is in use by process ${holder} (stop the server first, or set DATABASE_URL)`)
    }
    removeFile(file)
  }
  heldLocks.add(file)
  const release = () => {
    process.removeListener('exit', release)
    if (!heldLocks.delete(file)) return
    if (lockHolder(file) === process.pid) removeFile(file)
  }
  process.on('exit', release)
  return release
}

// The pid is written to a file of our own first, then linked into place: the
// link either fails or makes a complete lock, so no one ever reads a half-written one.
function takeLock (file: string): boolean {
  const own = `${file}.${process.pid}`
  writeFileSync(own, `${process.pid}\n`, { mode: 0o600 })
  try {
    linkSync(own, file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    removeFile(own)
  }
}

function lockHolder (file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function removeFile (file: string): void {
  try {
    unlinkSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
