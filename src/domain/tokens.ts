import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import { executePrepared } from '../db/prepared.ts'
import type { Actor } from './actors.ts'
import { badRequest, conflict } from './errors.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { storable } from './text.ts'
import { toActor } from './users.ts'

const PREFIX = 'sitrep_'
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')


/** The longest label a token may have. */
export const LABEL_MAX = 100

/** What a token is for, as it is kept: one line, trimmed, null when it says nothing. */
export function tokenLabel (label: string | null | undefined): string | null {
  const line = storable(label ?? '').replace(/\s+/g, ' ').trim()
  // Characters as people count them: an emoji is one.
  if ([...line].length > LABEL_MAX) throw badRequest('invalid_token_label', `A token's label is at most ${LABEL_MAX} characters long.`)
  return line === '' ? null : line
}

/** A new token and its row's id, for the audit log. */
export async function issueApiToken (db: Kysely<Database>, userId: number, label: string | null = null): Promise<{ id: number, token: string }> {
  const token = PREFIX + randomBytes(32).toString('base64url')
  const { id } = await db.insertInto('api_tokens').values({ user_id: userId, token_hash: hashToken(token), label }).returning('id').executeTakeFirstOrThrow()
  return { id, token }
}

/**
 * A new API token for the user; only its hash is kept, so it is shown once.
 * With a key, once per Idempotency-Key (see issueOnce).
 */
export async function createApiToken (db: Kysely<Database>, userId: number, key?: TokenKey): Promise<string> {
  return await db.transaction().execute(async (trx) =>
    (await issueOnce(trx, userId, key, async () => await issueApiToken(trx, userId))).token)
}

interface IssuedToken { id: number, token: string }

/** A token request's Idempotency-Key, and the server's secret its kept answer is sealed with. */
export interface TokenKey { idem: IdempotencyKey, secret: string }

export const tokenKey = (idem: IdempotencyKey | undefined, secret: string): TokenKey | undefined =>
  idem === undefined ? undefined : { idem, secret }

/**
 * Issues a token once per Idempotency-Key of its requester, in the caller's
 * transaction: a retry gets the same token back. The answer kept for the retry
 * is sealed with a key drawn from the server's secret and the client's key, so
 * the database alone never shows a token.
 */
export async function issueOnce (trx: Transaction<Database>, requesterId: number, key: TokenKey | undefined, issue: () => Promise<IssuedToken>): Promise<IssuedToken> {
  if (key === undefined) return await issue()
  const { idem, secret } = key
  const answer = await answerOnce(trx, requesterId, idem, 201, async () => {
    const { id, token } = await issue()
    return { id, sealed: seal(secret, idem.key, token) }
  })
  // A retry after the token was revoked is not handed a dead token.
  const issued = await trx.selectFrom('api_tokens').select('revoked_at').where('id', '=', answer.id).executeTakeFirst()
  if (issued?.revoked_at != null) throw conflict('idempotency_revoked', 'The token first issued for this Idempotency-Key has been revoked since: ask again with a new key.')
  return { id: answer.id, token: unseal(secret, idem.key, answer.sealed) }
}

const sealingKey = (secret: string, idempotencyKey: string) =>
  Buffer.from(hkdfSync('sha256', secret, idempotencyKey, 'sitrep api token answer', 32))

function seal (secret: string, idempotencyKey: string, token: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret, idempotencyKey), iv)
  const text = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), text]).toString('base64url')
}

function unseal (secret: string, idempotencyKey: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64url')
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret, idempotencyKey), bytes.subarray(0, 12))
    decipher.setAuthTag(bytes.subarray(12, 28))
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8')
  } catch {
    // The server's secret changed since the first answer.
    throw conflict('idempotency_unreadable', 'The first answer to this Idempotency-Key can no longer be read: send the request again with a new key.')
  }
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
