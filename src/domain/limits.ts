import type { Transaction } from 'kysely'
import type { Database, ThreadRow } from '../db/database.ts'
import type { Actor } from './actors.ts'
import { forbidden, tooMany } from './errors.ts'

export interface PostingLimit { max: number, windowSeconds: number, code: 'posting_limit_minute' | 'posting_limit_hour' }

/** How many comments one customer may post across all threads, per window. */
export const POSTING_LIMITS: readonly PostingLimit[] = [
  { max: 5, windowSeconds: 60, code: 'posting_limit_minute' },
  { max: 30, windowSeconds: 60 * 60, code: 'posting_limit_hour' }
]

/** The least slow mode while a thread is in crisis mode. */
export const CRISIS_SLOW_MODE_SECONDS = 60

/**
 * Refuses a customer's post in a read-only crisis; otherwise the slow mode
 * that applies to customers, in seconds (0 for none). Staff never come here.
 */
export function checkCrisisMode (thread: ThreadRow): number {
  if (!thread.crisis_mode) return thread.slow_mode_seconds
  if (thread.crisis_read_only) throw forbidden('crisis_read_only', 'This thread is in crisis mode: only staff can post in it for now.')
  return Math.max(thread.slow_mode_seconds, CRISIS_SLOW_MODE_SECONDS)
}

/**
 * A customer's comments and edits across all threads, per window (each edit
 * is pushed to every reader, as a comment is); over a limit, 429 with the
 * wait until the oldest leaves it.
 */
export async function checkPostingLimits (trx: Transaction<Database>, limits: readonly PostingLimit[], author: Actor, now: Date): Promise<void> {
  for (const limit of limits) {
    const since = new Date(now.getTime() - limit.windowSeconds * 1000)
    const acts = trx.selectFrom('posts').select('created_at as at').where('author_id', '=', author.id).where('created_at', '>', since)
      .unionAll(trx.selectFrom('post_revisions').select('created_at as at').where('edited_by', '=', author.id).where('created_at', '>', since))
    const recent = await trx.selectFrom(acts.as('acts')).select('at')
      .orderBy('at', 'desc').offset(limit.max - 1).limit(1)
      .executeTakeFirst()
    if (recent === undefined) continue
    const wait = Math.max(1, Math.ceil((recent.at.getTime() + limit.windowSeconds * 1000 - now.getTime()) / 1000))
    throw tooMany(limit.code, `You can post or edit at most ${limit.max} comments in ${limit.windowSeconds} s: you can post again in ${wait} s.`, wait)
  }
}

