import type pg from 'pg'
import type { Compilable, Kysely, PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely'
import type { Database } from './database.ts'

/** What pg says of a query it gave up waiting for (query_timeout). */
const CLIENT_TIMEOUT = 'Query read timeout'

/** SQL texts sent as named prepared statements, and their names. */
const preparedNames = new Map<string, string>()

/**
 * Runs `query` as a named prepared statement: PostgreSQL parses and plans it
 * once per connection, not on every call (two thirds of the database's CPU for a
 * lookup by key). For the few fixed queries every request makes, which select
 * named columns; on the embedded database, an ordinary query. Its rows.
 */
export async function executePrepared<O> (db: Kysely<Database>, query: Compilable<O>): Promise<O[]> {
  const compiled = query.compile()
  if (!preparedNames.has(compiled.sql)) preparedNames.set(compiled.sql, `sitrep_${preparedNames.size + 1}`)
  return (await db.executeQuery(compiled)).rows
}

/** pg's pool as Kysely uses it, sending by name the queries `executePrepared` has named. */
export function namingPool (pool: pg.Pool): PostgresPool {
  return {
    connect: async (): Promise<PostgresPoolClient> => {
      const client = await pool.connect()
      let stale = false
      const sendNamed = async (text: string, values: unknown[]) => {
        const name = preparedNames.get(text)
        if (name === undefined) return await client.query({ text, values })
        try {
          return await client.query({ text, values, name })
        } catch (err) {
          // "cached plan must not change result type": a newer instance's
          // migration changed a column the statement returns. Asked again
          // without it; the connection, whose statement is stale, is closed.
          if ((err as { code?: unknown }).code !== '0A000') throw err
          stale = true
          return await client.query({ text, values })
        }
      }
      const send = async (text: string, values: unknown[]) => {
        try {
          return await sendNamed(text, values)
        } catch (err) {
          // A query the client gave up on (query_timeout: a server silent)
          // may still run once the server answers: a BEGIN, say, that would
          // put the next request's writes in a transaction nobody commits.
          // The connection, left mid-query, is closed, not reused.
          if (err instanceof Error && err.message === CLIENT_TIMEOUT) stale = true
          throw err
        }
      }
      function query<R> (sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>
      function query<R> (cursor: PostgresCursor<R>): PostgresCursor<R>
      function query<R> (sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
        if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never) as PostgresCursor<R>
        // Kysely passes a copy of the query's parameters already.
        return send(sqlOrCursor, parameters as unknown[]) as unknown as Promise<PostgresQueryResult<R>>
      }
      return { query, release: (destroy) => client.release(destroy === true || stale) }
    },
    end: () => pool.end()
  }
}
