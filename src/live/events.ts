import { type Kysely, type Transaction, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { EndedPin } from '../domain/pins.ts'
import { type Post, type Thread, postForReader } from '../domain/views.ts'

/** Every event a thread's log can hold, with its payload: a wrong payload does not compile. */
export interface ThreadEventMap {
  /**
   * `handoverLead`, for a handover, names the incoming shift's lead on duty
   * when it was posted, for the page's live view; readers' frames leave it out.
   */
  'post.created': { post: Post, handoverLead?: string }
  'post.updated': { post: Post }
  'post.hidden': { post: Post }
  'post.restored': { post: Post }
  /**
   * `pinnedPost` comes with a change of the pinned post: the post, or null once
   * unpinned; `unpinned` then says which pinned state ended, by whom it was pinned and when.
   */
  'thread.updated': { thread: Thread, pinnedPost?: Post | null, unpinned?: EndedPin | null }
}

export type ThreadEventType = keyof ThreadEventMap

export type ThreadEvent = {
  [K in ThreadEventType]: { seq: number, type: K, threadId: number } & ThreadEventMap[K]
}[ThreadEventType]

/** An event about to be logged: its type and payload; the log gives it its seq. */
export type NewThreadEvent = {
  [K in ThreadEventType]: { type: K } & ThreadEventMap[K]
}[ThreadEventType]

/**
 * Appends events to the thread's log inside the caller's transaction, in
 * order. The seqs are taken under the thread's row lock, held until commit, so
 * they have no gaps and follow commit order.
 */
export async function appendEvents (trx: Transaction<Database>, threadId: number, events: NewThreadEvent[]): Promise<ThreadEvent[]> {
  const { last_seq: last } = await trx.updateTable('threads')
    .set({ last_seq: sql`last_seq + ${events.length}` })
    .where('id', '=', threadId)
    .returning('last_seq')
    .executeTakeFirstOrThrow()
  const logged = events.map(({ type, ...payload }, i) => {
    const seq = last - events.length + 1 + i
    // A thread snapshot taken inside the transaction carries the seq of its event.
    const stored = 'thread' in payload ? { ...payload, thread: { ...payload.thread, lastSeq: seq } } : payload
    return { seq, type, threadId, ...stored } as ThreadEvent
  })
  await trx.insertInto('thread_events')
    .values(logged.map(({ seq, type, threadId: _thread, ...payload }) => ({ thread_id: threadId, seq, type, payload: JSON.stringify(payload) })))
    .execute()
  return logged
}

export async function appendEvent<K extends ThreadEventType> (
  trx: Transaction<Database>,
  threadId: number,
  type: K,
  payload: ThreadEventMap[K]
): Promise<ThreadEvent> {
  const [event] = await appendEvents(trx, threadId, [{ type, ...payload } as NewThreadEvent])
  return event!
}

/**
 * The thread's events after `since`, in seq order. A post hidden since an
 * event was logged is replayed hidden: its text never reaches readers again.
 * A post edited since is replayed with its text of now: earlier texts are for
 * moderators, in its history.
 */
export async function eventsSince (db: Kysely<Database>, threadId: number, since: number, limit = 1000): Promise<ThreadEvent[]> {
  const rows = await db.selectFrom('thread_events')
    .leftJoin('posts', (join) => join.on(sql`posts.id`, '=', sql`coalesce(thread_events.payload->'post'->>'id', thread_events.payload->'pinnedPost'->>'id')::int`))
    .leftJoin('users', 'users.id', 'posts.author_id')
    .select(['thread_events.seq', 'thread_events.type', 'thread_events.payload', 'posts.hidden_at', 'posts.hidden_reason', 'posts.edited_at',
      'users.name as author_name', 'users.role as author_role'])
    // A post's text of now, only for the posts edited since: the others are replayed as logged (but for their author's name of now).
    .select([
      sql<string | null>`case when posts.edited_at is null then null else posts.body end`.as('edited_body'),
      sql<string | null>`case when posts.edited_at is null then null else posts.html end`.as('edited_html')
    ])
    .where('thread_events.thread_id', '=', threadId)
    .where('thread_events.seq', '>', since)
    .orderBy('thread_events.seq')
    .limit(limit)
    .execute()
  return rows.map((row) => {
    const event = { seq: row.seq, type: row.type, threadId, ...(row.payload as object) } as ThreadEvent
    // Its author as the pages show them now: renamed since, or of another role.
    const logged = 'post' in event ? event.post : event.pinnedPost
    const author = logged == null || row.author_name === null || row.author_role === null ||
      (logged.author.name === row.author_name && logged.author.role === row.author_role)
      ? undefined
      : { ...logged.author, name: row.author_name, role: row.author_role }
    if (row.hidden_at === null && row.edited_at === null && author === undefined) return event
    const now = {
      ...(row.edited_at !== null && { body: row.edited_body!, html: row.edited_html!, editedAt: row.edited_at.toISOString() }),
      ...(row.hidden_at !== null && { hidden: true, hiddenReason: row.hidden_reason }),
      ...(author !== undefined && { author })
    }
    if ('post' in event) return { ...event, post: { ...event.post, ...now } }
    if (event.pinnedPost != null) return { ...event, pinnedPost: { ...event.pinnedPost, ...now } }
    return event
  })
}

/** The event as readers may see it: hidden posts without their text, and nothing but the contract's fields. */
export function readerEvent (event: ThreadEvent): ThreadEvent {
  if (event.type === 'post.created' && event.handoverLead !== undefined) {
    const { handoverLead: _lead, ...contract } = event
    return readerEvent(contract)
  }
  if ('post' in event) return event.post.hidden ? { ...event, post: postForReader(event.post, false) } : event
  return event.pinnedPost?.hidden === true ? { ...event, pinnedPost: postForReader(event.pinnedPost, false) } : event
}
