import { createHash } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import stringify from 'safe-stable-stringify'
import type { Database } from '../db/database.ts'
import { badRequest, conflict } from './errors.ts'
import { isStorable } from './text.ts'

export interface IdempotencyKey {
  key: string
  /** What was asked; the same key with another request is refused. */
  request: unknown
}

/** How long a key is remembered: a retry comes within minutes; the sweep deletes keys older than this. */
export const KEY_LIFETIME_MS = 24 * 60 * 60_000

/**
 * A request's fingerprint, its object keys in order: a retry rebuilt from a
 * map, its fields in another order, is the same request.
 */
export const hashRequest = (request: unknown) => createHash('sha256').update(stringify(request) ?? '').digest('base64url')

/**
 * The fingerprint before, keys as sent: a key claimed with it (up to a day
 * before) is still recognised. Needed for a day after this version starts
 * (KEY_LIFETIME_MS), then no more.
 */
const hashAsSent = (request: unknown) => createHash('sha256').update(JSON.stringify(request)).digest('base64url')

export type Claim<T> = { fresh: true } | { fresh: false, answer: T }

/**
 * Claims the key inside the caller's transaction. A concurrent request with the
 * same key waits on the unique index until the first commits, then finds its
 * stored answer: a retry never posts twice.
 */
async function claimKey<T> (trx: Transaction<Database>, userId: number, idem: IdempotencyKey): Promise<Claim<T>> {
  if (idem.key.length === 0 || idem.key.length > 200 || !isStorable(idem.key)) throw badRequest('invalid_idempotency_key', 'An Idempotency-Key must be 1 to 200 characters long.')
  const requestHash = hashRequest(idem.request)
  const claimed = await trx.insertInto('idempotency_keys')
    .values({ user_id: userId, key: idem.key, request_hash: requestHash, response: null })
    .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst()
  if (claimed !== undefined) return { fresh: true }
  const stored = await trx.selectFrom('idempotency_keys').select(['request_hash', 'response'])
    .where('user_id', '=', userId).where('key', '=', idem.key)
    .executeTakeFirstOrThrow()
  if (stored.request_hash !== requestHash && stored.request_hash !== hashAsSent(idem.request)) {
    throw conflict('idempotency_mismatch', 'This Idempotency-Key was used for a different request.')
  }
  return { fresh: false, answer: stored.response as T }
}

/**
 * Does the work once per key, in the caller's transaction: the key is claimed
 * first, and a retry gets the answer the first request stored. Without a key,
 * the work is simply done. A failed request stores nothing: its retry tries again.
 */
export async function answerOnce<T> (trx: Transaction<Database>, userId: number, idem: IdempotencyKey | undefined, statusCode: number, work: () => Promise<T>): Promise<T> {
  if (idem === undefined) return await work()
  const claim = await claimKey<T>(trx, userId, idem)
  if (!claim.fresh) return claim.answer
  const answer = await work()
  await storeAnswer(trx, userId, idem.key, statusCode, answer)
  return answer
}

export async function deleteExpiredKeys (db: Kysely<Database>, now: Date): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', new Date(now.getTime() - KEY_LIFETIME_MS)).execute()
}

async function storeAnswer (trx: Transaction<Database>, userId: number, key: string, statusCode: number, answer: unknown): Promise<void> {
  await trx.updateTable('idempotency_keys')
    .set({ status_code: statusCode, response: JSON.stringify(answer) })
    .where('user_id', '=', userId).where('key', '=', key)
    .execute()
}
