import { type Kysely, type Transaction, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { type Post, type Thread, postForReader } from '../domain/views.ts'

/** Every event a thread's log can hold, with its payload: a wrong payload does not compile. */
export interface ThreadEventMap {
  'post.created': { post: Post }
  'post.updated': { post: Post }
  'post.hidden': { post: Post }
  'post.restored': { post: Post }
  /** `pinnedPost` comes with a change of the pinned post: the post, or null once unpinned. */
  'thread.updated': { thread: Thread, pinnedPost?: Post | null }
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

/**
 * The thread's events after `since`, in seq order. A post hidden since an
 * event was logged is replayed hidden: its text never reaches readers again.
 */
export async function eventsSince (db: Kysely<Database>, threadId: number, since: number, limit = 1000): Promise<ThreadEvent[]> {
  const rows = await db.selectFrom('thread_events')
    .leftJoin('posts', (join) => join.on(sql`posts.id`, '=', sql`coalesce(thread_events.payload->'post'->>'id', thread_events.payload->'pinnedPost'->>'id')::int`))
    .select(['thread_events.seq', 'thread_events.type', 'thread_events.payload', 'posts.hidden_at', 'posts.hidden_reason'])
    .where('thread_events.thread_id', '=', threadId)
    .where('thread_events.seq', '>', since)
    .orderBy('thread_events.seq')
    .limit(limit)
    .execute()
  return rows.map((row) => {
    const event = { seq: row.seq, type: row.type, threadId, ...(row.payload as object) } as ThreadEvent
    if (row.hidden_at === null) return event
    const hidden = { hidden: true, hiddenReason: row.hidden_reason }
    if ('post' in event) return { ...event, post: { ...event.post, ...hidden } }
    if (event.pinnedPost != null) return { ...event, pinnedPost: { ...event.pinnedPost, ...hidden } }
    return event
  })
}

/** The event as readers may see it: hidden posts without their text. */
export function readerEvent (event: ThreadEvent): ThreadEvent {
  if ('post' in event) return event.post.hidden ? { ...event, post: postForReader(event.post, false) } : event
  return event.pinnedPost?.hidden === true ? { ...event, pinnedPost: postForReader(event.pinnedPost, false) } : event
}
