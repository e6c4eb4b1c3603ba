import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import pg from 'pg'
import type { Database } from './database.ts'

export interface DatabaseHandle {
  db: Kysely<Database>
  /** 'server' with DATABASE_URL, 'embedded' on PGlite. */
  kind: 'server' | 'embedded'
  /** The server's URL, for connections of their own (LISTEN); undefined when embedded. */
  url: string | undefined
  close: () => Promise<void>
}

export interface ConnectOptions {
  databaseUrl: string | undefined
  /** Where the embedded database keeps its files; 'memory://' keeps nothing. */
  dataDir: string
  poolSize?: number
  onPoolError?: (err: Error) => void
}

export async function connectDatabase (options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 20,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000
    })
    // An idle client that loses its server must not take the process down;
    // the pool replaces it on the next checkout.
    pool.on('error', (err) => options.onPoolError?.(err))
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { db, kind: 'server', url: options.databaseUrl, close: () => db.destroy() }
  }

  let pgliteDir = options.dataDir
  if (!pgliteDir.startsWith('memory://')) {
    pgliteDir = join(options.dataDir, 'pgdata')
    mkdirSync(pgliteDir, { recursive: true })
  }
  const pglite = await PGlite.create(pgliteDir)
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  return { db, kind: 'embedded', url: undefined, close: () => db.destroy() }
}
