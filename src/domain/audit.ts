import type { Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Actor } from './actors.ts'
import { storable } from './text.ts'

export interface AuditEntry {
  action: string
  threadId?: number | null
  postId?: number | null
  targetUserId?: number | null
  before?: unknown
  after?: unknown
  reason?: string | null
}

/** JSON that jsonb takes: whatever text the action was given, its lone surrogate halves replaced. */
const toJsonb = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => typeof item === 'string' ? storable(item) : item)

/**
 * One append-only row per staff action, written in the action's own
 * transaction; `null` for the server's operator, at the command line.
 */
export async function recordAudit (trx: Transaction<Database>, actor: Actor | null, entry: AuditEntry): Promise<void> {
  await trx.insertInto('audit_log').values({
    actor_id: actor?.id ?? null,
    action: entry.action,
    thread_id: entry.threadId ?? null,
    post_id: entry.postId ?? null,
    target_user_id: entry.targetUserId ?? null,
    before: entry.before === undefined ? null : toJsonb(entry.before),
    after: entry.after === undefined ? null : toJsonb(entry.after),
    reason: entry.reason ?? null
  }).execute()
}
