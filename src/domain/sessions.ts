import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.ts'
import { executePrepared } from '../db/prepared.ts'
import type { Actor } from './actors.ts'
import { toActor } from './users.ts'

/** A session unused this long ends. */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000
/** No session lives longer than this, used or not. */
export const SESSION_ABSOLUTE_MS = 14 * 24 * 60 * 60 * 1000
// Writing last_seen_at on every request would cost a write per page view.
export const TOUCH_EVERY_MS = 60 * 1000

// Only a hash of the cookie's value is stored: a leaked table opens no session.
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

/** A new session: `token` goes in the cookie, `id` (its hash) is what is stored. */
export async function createSession (db: Kysely<Database>, userId: number, now: Date): Promise<{ token: string, id: string }> {
  const token = randomBytes(32).toString('base64url')
  const id = hashToken(token)
  await db.insertInto('sessions').values({ id, user_id: userId, created_at: now, last_seen_at: now }).execute()
  return { token, id }
}

export interface ActiveSession {
  actor: Actor
  sessionId: string
  createdAt: Date
  /** When the database last saw it used. */
  lastSeenAt: Date
}

/** The session's user, or null when the token is unknown, idle too long or too old. */
export async function resumeSession (db: Kysely<Database>, token: string, now: Date): Promise<ActiveSession | null> {
  const id = hashToken(token)
  const [row] = await executePrepared(db, db.selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.created_at', 'sessions.last_seen_at', 'users.id', 'users.email', 'users.name', 'users.role', 'users.shift', 'users.locale'])
    .where('sessions.id', '=', id))
  if (row === undefined) return null
  const age = now.getTime() - row.created_at.getTime()
  const idle = now.getTime() - row.last_seen_at.getTime()
  if (age > SESSION_ABSOLUTE_MS || idle > SESSION_IDLE_MS) {
    await db.deleteFrom('sessions').where('id', '=', id).execute()
    return null
  }
  let lastSeenAt = row.last_seen_at
  if (idle > TOUCH_EVERY_MS) {
    await db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', id).execute()
    lastSeenAt = now
  }
  return { actor: toActor(row), sessionId: id, createdAt: row.created_at, lastSeenAt }
}

export async function endSession (db: Kysely<Database>, token: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', hashToken(token)).execute()
}

/** Signs the user out everywhere, e.g. after a password change or a role change. */
export async function endAllSessions (db: Kysely<Database>, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute()
}

export async function deleteExpiredSessions (db: Kysely<Database>, now: Date): Promise<void> {
  await db.deleteFrom('sessions')
    .where((eb) => eb.or([
      eb('created_at', '<', new Date(now.getTime() - SESSION_ABSOLUTE_MS)),
      eb('last_seen_at', '<', new Date(now.getTime() - SESSION_IDLE_MS))
    ]))
    .execute()
}
