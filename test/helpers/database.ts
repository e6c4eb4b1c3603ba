import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'

/**
 * A fresh, empty database for one test file: a new database on the server of
 * DATABASE_URL when set, else an in-memory embedded one. `drop` removes it.
 */
export interface TestDatabase { databaseUrl: string | undefined, dataDir: string, drop: () => Promise<void> }

/**
 * Whether the tests run on a PostgreSQL server (DATABASE_URL), which a test
 * of what only a server has needs: connections of its own beside the app's
 * (to hold a lock, to cut the app's LISTEN). On the embedded database, one
 * process's single connection, it is skipped with the reason; CI sets
 * DATABASE_URL, and runs it.
 */
export function onDatabaseServer (t: Test, what: string): boolean {
  if (process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '') return true
  t.plan(0, `${what}: only on a PostgreSQL server (set DATABASE_URL)`)
  return false
}

export async function createTestDatabase (): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL
  if (serverUrl === undefined || serverUrl === '') {
    return { databaseUrl: undefined, dataDir: 'memory://', drop: async () => {} }
  }
  const name = `sitrep_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await withAdmin(serverUrl, (client) => client.query(`create database ${name}`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    databaseUrl: url.toString(),
    dataDir: 'memory://',
    drop: () => withAdmin(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => {})
  }
}

async function withAdmin<T> (serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
