import type { FastifyBaseLogger } from 'fastify'
import { type Kysely, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { isFailure } from './thread-cache.ts'

/** How long a replica that failed is passed over: the primary answers meanwhile. */
const REST_MS = 10_000

/**
 * Sends readers' queries to read replicas, one after the other, without ever
 * showing a reader less than the primary would have when they asked: the
 * primary says first how far its write-ahead log has come, and a replica is
 * read only once it has replayed that far (everything committed before the
 * reader asked: posts, renames, all of it); the primary is read instead while
 * the replica lags behind, fails, or rests after failing. A replica only moves
 * forward, so a read begun once it holds that position sees it in all its
 * queries. Whoever was told their post is saved, by any instance, finds it on
 * the next page they load.
 */
export class ReadReplicas {
  private next = 0
  private readonly restingUntil: number[]

  constructor (
    private readonly primary: Kysely<Database>,
    private readonly replicas: readonly Kysely<Database>[],
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now
  ) {
    this.restingUntil = replicas.map(() => 0)
  }

  get count (): number {
    return this.replicas.length
  }

  /** `load` run on a replica holding all the primary holds now, else on the primary. */
  async read<T> (load: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const index = this.pick()
    if (index === undefined) return await load(this.primary)
    const { rows: [primary] } = await sql<{ lsn: string }>`select pg_current_wal_lsn()::text as lsn`.execute(this.primary)
    const replica = this.replicas[index]!
    try {
      const { rows: [holds] } = await sql<{ holds: boolean }>`select coalesce(pg_last_wal_replay_lsn() >= ${primary!.lsn}::pg_lsn, false) as holds`.execute(replica)
      if (holds?.holds === true) return await load(replica)
      this.log.debug({ replica: index }, 'replica behind the primary: read from the primary')
    } catch (err) {
      // A refusal the read itself gives (no such page) the primary gives too.
      if (isFailure(err)) this.rest(index, err)
    }
    return await load(this.primary)
  }

  private pick (): number | undefined {
    const now = this.now()
    for (let tried = 0; tried < this.replicas.length; tried++) {
      const index = this.next
      this.next = (this.next + 1) % this.replicas.length
      if (this.restingUntil[index]! <= now) return index
    }
    return undefined
  }

  private rest (index: number, err: unknown): void {
    this.restingUntil[index] = this.now() + REST_MS
    // The message alone: pg hangs the whole client, settings and all, on the error.
    this.log.warn({ replica: index, err: (err as Error).message }, `read replica failed; reading from the primary for ${REST_MS / 1000} s`)
  }
}
