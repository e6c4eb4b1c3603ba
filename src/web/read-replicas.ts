import type { FastifyBaseLogger } from 'fastify'
import { type Kysely, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { executePrepared } from '../db/prepared.ts'
import { isFailure } from './thread-cache.ts'

/** How long a replica that failed is passed over: the primary answers meanwhile. */
const REST_MS = 10_000

/** A thread's event `seq` a read must include. */
export type Needed = readonly (readonly [threadId: number, seq: number])[]

/**
 * Sends readers' queries to read replicas, one after the other, without ever
 * showing a reader less than the primary would when the request came: the
 * primary says first how far the thread (or every thread) has come, its
 * latest event, with a lookup by key; a replica is read only once it holds
 * that much, and the primary is read instead while it lags behind, fails, or
 * rests after failing. A replica only moves forward, so a read begun once it
 * holds those events sees them in all its queries. Whoever was told their
 * post is saved, by any instance, finds it on the next page they load.
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

  /** `load` run on a replica holding every event of the thread (null: of every thread) the primary has now, else on the primary. */
  async read<T> (threadId: number | null, load: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const index = this.pick()
    if (index === undefined) return await load(this.primary)
    const needed = await latestEvents(this.primary, threadId)
    // No such thread: the primary says so.
    if (threadId !== null && needed.length === 0) return await load(this.primary)
    const replica = this.replicas[index]!
    try {
      if (await holds(replica, needed)) return await load(replica)
      this.log.debug({ replica: index, threadId }, 'replica behind the primary: read from the primary')
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

/** Each thread's latest event on the primary: the one asked for, or all of them. */
async function latestEvents (primary: Kysely<Database>, threadId: number | null): Promise<Needed> {
  let query = primary.selectFrom('threads').select(['id', 'last_seq'])
  if (threadId !== null) query = query.where('id', '=', threadId)
  const rows = threadId === null ? await query.execute() : await executePrepared(primary, query)
  return rows.map((row) => [row.id, row.last_seq] as const)
}

/** Whether `db` has every thread of `needed`, each at its event `seq` or later. */
async function holds (db: Kysely<Database>, needed: Needed): Promise<boolean> {
  if (needed.length === 0) return true
  const ids = needed.map(([threadId]) => threadId)
  const seqs = needed.map(([, seq]) => seq)
  const { rows } = await sql<{ behind: number }>`
    select count(*)::int as behind
    from unnest(${ids}::int[], ${seqs}::int[]) as needed(id, seq)
    left join threads on threads.id = needed.id
    where threads.id is null or threads.last_seq < needed.seq`.execute(db)
  return rows[0]?.behind === 0
}
