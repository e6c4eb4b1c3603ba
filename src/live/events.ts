import { type Transaction, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Post, Thread } from '../domain/views.ts'

/** Every event a thread's log can hold, with its payload: a wrong payload does not compile. */
export interface ThreadEventMap {
  'post.created': { post: Post }
  'post.updated': { post: Post }
  'post.hidden': { post: Post }
  'post.restored': { post: Post }
  'thread.updated': { thread: Thread }
}

export type ThreadEventType = keyof ThreadEventMap

export type ThreadEvent = {
  [K in ThreadEventType]: { seq: number, type: K, threadId: number } & ThreadEventMap[K]
}[ThreadEventType]

/**
 * Appends an event to the thread's log inside the caller's transaction. The
 * next seq is taken under the thread's row lock, held until commit, so seqs
 * have no gaps and follow commit order.
 */
export async function appendEvent<K extends ThreadEventType> (
  trx: Transaction<Database>,
  threadId: number,
  type: K,
  payload: ThreadEventMap[K]
): Promise<ThreadEvent> {
  const { last_seq: seq } = await trx.updateTable('threads')
    .set({ last_seq: sql`last_seq + 1` })
    .where('id', '=', threadId)
    .returning('last_seq')
    .executeTakeFirstOrThrow()
  // A thread snapshot taken inside the transaction carries the seq of this event.
  const stored = 'thread' in payload ? { ...payload, thread: { ...payload.thread, lastSeq: seq } } : payload
  await trx.insertInto('thread_events')
    .values({ thread_id: threadId, seq, type, payload: JSON.stringify(stored) })
    .execute()
  return { seq, type, threadId, ...stored } as ThreadEvent
}

/** The thread's events after `since`, in seq order. */
export async function eventsSince (
  db: import('kysely').Kysely<Database>,
  threadId: number,
  since: number,
  limit = 1000
): Promise<ThreadEvent[]> {
  const rows = await db.selectFrom('thread_events')
    .select(['seq', 'type', 'payload'])
    .where('thread_id', '=', threadId)
    .where('seq', '>', since)
    .orderBy('seq')
    .limit(limit)
    .execute()
  return rows.map((row) => ({ seq: row.seq, type: row.type, threadId, ...(row.payload as object) }) as ThreadEvent)
}
