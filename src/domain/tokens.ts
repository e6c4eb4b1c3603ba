import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.ts'
import { executePrepared } from '../db/prepared.ts'
import type { Actor } from './actors.ts'
import { toActor } from './users.ts'

const PREFIX = 'sitrep_'
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

/** A new API token for the user; only its hash is kept, so it is shown once. */
export async function createApiToken (db: Kysely<Database>, userId: number): Promise<string> {
  return (await issueApiToken(db, userId)).token
}

/** A new token and its row's id, for the audit log. */
export async function issueApiToken (db: Kysely<Database>, userId: number): Promise<{ id: number, token: string }> {
  const token = PREFIX + randomBytes(32).toString('base64url')
  const { id } = await db.insertInto('api_tokens').values({ user_id: userId, token_hash: hashToken(token) }).returning('id').executeTakeFirstOrThrow()
  return { id, token }
}

/** A valid token's user, and when the database last saw the token used. */
export interface ActiveToken { actor: Actor, lastUsedAt: Date }

/** How often a token's last use is written: not on every request. */
export const TOKEN_TOUCH_EVERY_MS = 60_000

export async function resumeApiToken (db: Kysely<Database>, token: string, now: Date): Promise<ActiveToken | null> {
  if (!token.startsWith(PREFIX)) return null
  const [row] = await executePrepared(db, db.selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['api_tokens.id as token_id', 'api_tokens.last_used_at', 'users.id', 'users.email', 'users.name', 'users.role', 'users.shift', 'users.locale'])
    .where('api_tokens.token_hash', '=', hashToken(token))
    .where('api_tokens.revoked_at', 'is', null))
  if (row === undefined) return null
  let lastUsedAt = row.last_used_at
  if (lastUsedAt === null || now.getTime() - lastUsedAt.getTime() > TOKEN_TOUCH_EVERY_MS) {
    await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.token_id).execute()
    lastUsedAt = now
  }
  return { actor: toActor(row), lastUsedAt }
}

export async function actorForToken (db: Kysely<Database>, token: string, now: Date): Promise<Actor | null> {
  return (await resumeApiToken(db, token, now))?.actor ?? null
}

export async function revokeApiToken (db: Kysely<Database>, token: string, now: Date): Promise<boolean> {
  const result = await db.updateTable('api_tokens').set({ revoked_at: now })
    .where('token_hash', '=', hashToken(token)).where('revoked_at', 'is', null)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Revokes a token by its id (what an admin sees); false when there is none left to revoke. */
export async function revokeApiTokenById (db: Kysely<Database>, id: number, now: Date): Promise<boolean> {
  const result = await db.updateTable('api_tokens').set({ revoked_at: now })
    .where('id', '=', id).where('revoked_at', 'is', null)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Revokes every token of the user still valid; how many there were. */
export async function revokeUserApiTokens (db: Kysely<Database>, userId: number, now: Date): Promise<number> {
  const result = await db.updateTable('api_tokens').set({ revoked_at: now })
    .where('user_id', '=', userId).where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

export async function countActiveApiTokens (db: Kysely<Database>, userId: number): Promise<number> {
  const { count } = await db.selectFrom('api_tokens').select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', userId).where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow()
  return Number(count)
}
