import type { Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Actor } from './actors.ts'

/**
 * Keeps the pins table, the history of a thread's pinned states, in step with
 * threads.pinned_post_id: the current pin closes when another takes its place.
 */
export async function recordPin (trx: Transaction<Database>, actor: Actor, threadId: number, postId: number, now: Date): Promise<void> {
  await closePin(trx, threadId, now)
  await trx.insertInto('pins').values({ thread_id: threadId, post_id: postId, pinned_by: actor.id, pinned_at: now }).execute()
}

export async function closePin (trx: Transaction<Database>, threadId: number, now: Date): Promise<void> {
  await trx.updateTable('pins').set({ unpinned_at: now })
    .where('thread_id', '=', threadId).where('unpinned_at', 'is', null)
    .execute()
}
