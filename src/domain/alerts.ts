import { type Kysely, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { type Actor, isStaff } from './actors.ts'
import type { Deps } from './deps.ts'

/** A thread whose promised update has not come. */
export interface OverdueThread {
  id: number
  title: string
  nextUpdateAt: string
  /** Minutes since the promised time, at least 1. */
  minutes: number
}

/**
 * The overdue threads, for the staff banner: one query, and nothing at all
 * for readers and customers.
 */
export async function overdueThreads (deps: Deps, actor: Actor | null): Promise<OverdueThread[]> {
  if (!isStaff(actor)) return []
  const now = deps.now()
  const rows = await deps.db.selectFrom('threads')
    .select(['id', 'title', 'next_update_at'])
    .where('next_update_at', '<', now)
    .where('status', '<>', 'resolved')
    .orderBy('next_update_at')
    .limit(50)
    .execute()
  return rows.map((row) => toOverdue(row, now))
}

function toOverdue (row: { id: number, title: string, next_update_at: Date | null }, now: Date): OverdueThread {
  const at = row.next_update_at!
  return { id: row.id, title: row.title, nextUpdateAt: at.toISOString(), minutes: Math.max(1, Math.floor((now.getTime() - at.getTime()) / 60_000)) }
}

/**
 * Claims the overdue promises no one was alerted about yet. The claim is one
 * UPDATE, so with several instances each promise is claimed, and alerted, once.
 */
export async function claimOverdue (deps: Deps): Promise<OverdueThread[]> {
  const now = deps.now()
  const rows = await deps.db.updateTable('threads')
    .set({ alerted_for: sql`next_update_at` })
    .where('next_update_at', '<', now)
    .where('status', '<>', 'resolved')
    .where(sql<boolean>`alerted_for is distinct from next_update_at`)
    .returning(['id', 'title', 'next_update_at'])
    .execute()
  return rows.map((row) => toOverdue(row, now))
}

/** Of these threads, the ones still overdue, with the promise that passed: an alert put off for someone is sent while it stands. */
export async function stillOverdue (db: Kysely<Database>, threadIds: readonly number[], now: Date): Promise<OverdueThread[]> {
  if (threadIds.length === 0) return []
  const rows = await db.selectFrom('threads').select(['id', 'title', 'next_update_at'])
    .where('id', 'in', threadIds)
    .where('next_update_at', '<', now)
    .where('status', '<>', 'resolved')
    .execute()
  return rows.map((row) => toOverdue(row, now))
}

/**
 * Gives a claimed promise back, when its alert could not go (the mail server
 * or the database away): the next pass claims it, and tries again.
 */
export async function releaseOverdue (db: Kysely<Database>, thread: OverdueThread): Promise<void> {
  await db.updateTable('threads')
    .set({ alerted_for: null })
    .where('id', '=', thread.id)
    .where('alerted_for', '=', new Date(thread.nextUpdateAt))
    .execute()
}

export interface AlertRecipient { email: string, name: string, locale: 'en' | 'fr' }

/** Whoever is on duty; when nobody is checked in (or every check-in has lapsed), every staff member. */
export async function alertRecipients (db: Kysely<Database>, now: Date): Promise<AlertRecipient[]> {
  const onDuty = await db.selectFrom('duty').innerJoin('users', 'users.id', 'duty.user_id')
    .select(['users.email', 'users.name', 'users.locale'])
    .where('duty.ended_at', 'is', null)
    .where('duty.lapses_at', '>', now)
    .where('users.role', '<>', 'customer')
    .orderBy('users.id')
    .execute()
  if (onDuty.length === 0) return await allStaff(db)
  return onDuty.map((row) => ({ email: row.email, name: row.name, locale: row.locale ?? 'en' }))
}

/** Every staff member: an alert's recipients when nobody on duty can get it. */
export async function allStaff (db: Kysely<Database>): Promise<AlertRecipient[]> {
  const rows = await db.selectFrom('users').select(['email', 'name', 'locale']).where('role', '<>', 'customer').orderBy('id').execute()
  return rows.map((row) => ({ email: row.email, name: row.name, locale: row.locale ?? 'en' }))
}
