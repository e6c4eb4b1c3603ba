import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * A fresh, empty database for one test file: a new database on the server of
 * DATABASE_URL when set, else an in-memory embedded one. `drop` removes it.
 */
export interface TestDatabase { databaseUrl: string | undefined, dataDir: string, drop: () => Promise<void> }

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
