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
const TOUCH_EVERY_MS = 60 * 1000

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

/**
 * Sessions already checked, so that a signed-in reader's reloads cost no
 * query: each is kept until its `last_seen_at` is due to be written again (a
 * minute), and dropped as soon as the database announces a change to its
 * user (`AUTH_CHANNEL`: a sign-out, a password or role change, a rename, on
 * any instance, by any means), or the moment this instance stops hearing
 * those announcements. It serves only what cannot change anything (a page
 * read); a request that changes something checks its session in the
 * database, whatever is kept.
 */
export class SessionCache {
  private readonly kept = new Map<string, ActiveSession>()
  private readonly tokensOf = new Map<number, Set<string>>()
  // Moves with every announcement: a lookup under way when one came may have
  // read what it announced the end of, and is not kept.
  private generation = 0

  constructor (private readonly hearsEveryChange: () => boolean, private readonly maxEntries = 50_000) {}

  async resume (db: Kysely<Database>, token: string, now: Date): Promise<ActiveSession | null> {
    const kept = this.kept.get(token)
    if (kept !== undefined && this.hearsEveryChange()) {
      const at = now.getTime()
      if (at - kept.lastSeenAt.getTime() <= TOUCH_EVERY_MS && at - kept.createdAt.getTime() <= SESSION_ABSOLUTE_MS) return kept
    }
    const generation = this.generation
    const session = await resumeSession(db, token, now)
    this.forgetSession(token)
    if (session !== null && generation === this.generation && this.hearsEveryChange()) this.keep(token, session)
    return session
  }

  /** The user changed, or their sessions ended: what is kept of them goes. */
  dropUser (userId: number): void {
    this.generation++
    for (const token of this.tokensOf.get(userId) ?? []) this.kept.delete(token)
    this.tokensOf.delete(userId)
  }

  dropAll (): void {
    this.generation++
    this.kept.clear()
    this.tokensOf.clear()
  }

  private keep (token: string, session: ActiveSession): void {
    if (this.kept.size >= this.maxEntries) {
      // The longest kept goes first.
      const [oldest] = this.kept.keys()
      this.forgetSession(oldest!)
    }
    this.kept.set(token, session)
    const tokens = this.tokensOf.get(session.actor.id)
    if (tokens === undefined) this.tokensOf.set(session.actor.id, new Set([token]))
    else tokens.add(token)
  }

  /** This session is read from the database next time. */
  forgetSession (token: string): void {
    const session = this.kept.get(token)
    if (session === undefined) return
    this.kept.delete(token)
    const tokens = this.tokensOf.get(session.actor.id)
    tokens?.delete(token)
    if (tokens?.size === 0) this.tokensOf.delete(session.actor.id)
  }
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
