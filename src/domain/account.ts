import type { Kysely } from 'kysely'
import type { Database } from '../db/database.ts'
import { type Actor, requireSignedIn } from './actors.ts'
import { recordAudit } from './audit.ts'
import type { Deps } from './deps.ts'
import { badRequest, conflict, forbidden, notFound } from './errors.ts'
import { PASSWORD_MAX, hashPassword, verifyPassword } from './passwords.ts'
import { endAllSessions } from './sessions.ts'
import { revokeUserApiTokens } from './tokens.ts'
import { validateName, validatePassword } from './users.ts'

export interface PasswordChange {
  /** The password the user signs in with today: proof that the session's holder knows it. */
  current: string
  password: string
  /** Also revoke the user's API tokens: anyone who knew the old password could have made one. */
  revokeTokens?: boolean
}

export interface PasswordChanged {
  /** API tokens revoked with the change. */
  revokedTokens: number
}

/**
 * A signed-in user's new password. Every session of the user ends with the
 * change, so a browser left signed in elsewhere (or a stolen cookie) is out;
 * the caller signs the user's own browser in again. API tokens are kept
 * unless asked: scripts should not stop at every routine change.
 */
export async function changePassword (db: Kysely<Database>, actor: Actor | null, change: PasswordChange, now: Date): Promise<PasswordChanged> {
  const user = requireSignedIn(actor)
  // The cheap refusal first: no hashing for a new password that cannot be used.
  validatePassword(change.password)
  const row = await db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirst()
  if (row === undefined) throw notFound('user')
  const knows = change.current.length <= PASSWORD_MAX && await verifyPassword(row.password_hash, change.current)
  if (!knows) throw forbidden('wrong_password', 'The current password is not right.')
  if (change.password === change.current) throw badRequest('password_unchanged', 'The new password is the same as the current one.')
  return await storePassword(db, user.id, change.password, { now, revokeTokens: change.revokeTokens === true, replacing: row.password_hash })
}

/**
 * Sets a user's password without the old one: for the admin command line.
 * The user's sessions end as with a change.
 */
export async function resetPassword (db: Kysely<Database>, userId: number, password: string, options: { now: Date, revokeTokens?: boolean }): Promise<PasswordChanged> {
  validatePassword(password)
  return await storePassword(db, userId, password, { now: options.now, revokeTokens: options.revokeTokens === true, audited: true })
}

/**
 * Sets the password of a user who forgot theirs, proven by a link sent to
 * their address: only the password the link was made for is replaced, so a
 * link works once. Their sessions end, as with any change, and their API
 * tokens with them when they choose (the page's choice unless unticked: a
 * link is how an account taken over is won back).
 */
export async function setForgottenPassword (db: Kysely<Database>, userId: number, password: string, replacing: string, now: Date, revokeTokens: boolean): Promise<PasswordChanged> {
  validatePassword(password)
  return await storePassword(db, userId, password, { now, revokeTokens, replacing })
}

async function storePassword (
  db: Kysely<Database>,
  userId: number,
  password: string,
  options: { now: Date, revokeTokens: boolean, replacing?: string, audited?: boolean }
): Promise<PasswordChanged> {
  // Hashed before the transaction: no row stays locked while argon2 works.
  const passwordHash = await hashPassword(password)
  return await db.transaction().execute(async (trx) => {
    let update = trx.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId)
    // Only the password that was checked is replaced: two changes at once cannot both pass on one proof.
    if (options.replacing !== undefined) update = update.where('password_hash', '=', options.replacing)
    const result = await update.executeTakeFirst()
    if (result.numUpdatedRows === 0n) {
      if (options.replacing === undefined) throw notFound('user')
      throw conflict('password_changed', 'The password was changed meanwhile. Sign in again with the new one.')
    }
    await endAllSessions(trx, userId)
    const revokedTokens = options.revokeTokens ? await revokeUserApiTokens(trx, userId, options.now) : 0
    // Set by the operator, not by its owner: the audit log says so.
    if (options.audited === true) await recordAudit(trx, null, { action: 'user.password', targetUserId: userId, after: { revokedTokens } })
    return { revokedTokens }
  })
}

/**
 * A signed-in user's new name, shown beside their posts from then on, the
 * earlier ones included. The audit log keeps the old one, so moderators can
 * tell who was who; whoever is on duty is shown under the new name at once.
 */
export async function renameSelf (deps: Deps, actor: Actor | null, input: string): Promise<string> {
  const user = requireSignedIn(actor)
  const name = validateName(input)
  const onDuty = await deps.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').select('name').where('id', '=', user.id).forUpdate().executeTakeFirst()
    if (before === undefined) throw notFound('user')
    if (before.name === name) return false
    await trx.updateTable('users').set({ name }).where('id', '=', user.id).execute()
    await recordAudit(trx, user, { action: 'user.name', targetUserId: user.id, before: { name: before.name }, after: { name } })
    const duty = await trx.selectFrom('duty').select('id').where('user_id', '=', user.id).where('ended_at', 'is', null).executeTakeFirst()
    return duty !== undefined
  })
  if (onDuty) deps.dutyChanged()
  return name
}
