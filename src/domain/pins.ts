import type { Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Actor } from './actors.ts'

/** A pinned state that has just ended: pages left open add it to their earlier states. */
export interface EndedPin {
  postId: number
  pinnedBy: { id: number, name: string }
  pinnedAt: string
  unpinnedAt: string
}

/**
 * Keeps the pins table, the history of a thread's pinned states, in step with
 * threads.pinned_post_id: the current pin closes when another takes its place.
 */
export async function recordPin (trx: Transaction<Database>, actor: Actor, threadId: number, postId: number, now: Date): Promise<EndedPin | null> {
  const ended = await closePin(trx, threadId, now)
  await trx.insertInto('pins').values({ thread_id: threadId, post_id: postId, pinned_by: actor.id, pinned_at: now }).execute()
  return ended
}

export async function closePin (trx: Transaction<Database>, threadId: number, now: Date): Promise<EndedPin | null> {
  const row = await trx.updateTable('pins').from('users').set({ unpinned_at: now })
    .whereRef('users.id', '=', 'pins.pinned_by')
    .where('pins.thread_id', '=', threadId).where('pins.unpinned_at', 'is', null)
    .returning(['pins.post_id', 'pins.pinned_at', 'users.id as user_id', 'users.name'])
    .executeTakeFirst()
  if (row === undefined) return null
  return { postId: row.post_id, pinnedBy: { id: row.user_id, name: row.name }, pinnedAt: row.pinned_at.toISOString(), unpinnedAt: now.toISOString() }
}
