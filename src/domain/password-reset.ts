import type { Kysely } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Deps } from './deps.ts'
import { isSignature, linkSignatures } from './link-signatures.ts'
import { sentToMailbox } from './subscriptions.ts'
import { isStorable } from './text.ts'

/** How long a link to choose a new password works. */
export const RESET_LINK_MS = 60 * 60_000
/** One link per account in this time: asking again sooner sends nothing more. */
const RESET_EVERY_MS = 15 * 60_000
/** Links sent to one mailbox in an hour, whatever the accounts (alice+1@ and alice+2@ are one). */
const RESET_PER_MAILBOX_PER_HOUR = 3

/** Whom a link goes to, and the password it may replace. */
export interface ResetClaim {
  userId: number
  email: string
  locale: 'en' | 'fr' | null
  passwordHash: string
  /** When one was sent before, to give the claim back if this one cannot go. */
  before: Date | null
}

/**
 * Links to choose a new password: the user, the link's end, and a signature
 * over these and the password it replaces. Once the password is changed (by
 * the link, or otherwise), the link no longer works; nothing is stored.
 */
export function resetLinks (secret: string) {
  const { sign, matches } = linkSignatures(secret, 'sitrep password reset links, v1')
  return {
    /** A link for `claim`, working for `lifeMs` (an hour, unless an admin gives it). */
    token: (claim: Pick<ResetClaim, 'userId' | 'passwordHash'>, now: Date, lifeMs = RESET_LINK_MS): string => {
      const expires = Math.floor((now.getTime() + lifeMs) / 1000)
      return `${claim.userId}.${expires}.${sign('reset', claim.userId, expires, claim.passwordHash)}`
    },
    /** The user a link is for, and the password it replaces; null for a link expired, used or not ours. */
    read: async (db: Kysely<Database>, token: string, now: Date): Promise<{ userId: number, passwordHash: string } | null> => {
      const match = /^(\d{1,10})\.(\d{1,12})\.([\w-]+)$/.exec(token)
      if (match === null || !isSignature(match[3]!)) return null
      const userId = Number(match[1])
      const expires = Number(match[2])
      if (userId > 2_147_483_647 || expires * 1000 <= now.getTime()) return null
      const user = await db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst()
      if (user === undefined) return null
      return matches(match[3]!, 'reset', userId, expires, user.password_hash) ? { userId, passwordHash: user.password_hash } : null
    }
  }
}

/**
 * Takes the right to send a link to the account of `email`: null when there
 * is no such account, one went to it lately, or its mailbox had its share
 * this hour. Whoever asks is told the same, so the answer says nothing of
 * which addresses have an account.
 */
export async function claimResetMail (deps: Deps, email: string): Promise<ResetClaim | null> {
  if (!isStorable(email) || email.trim() === '') return null
  const now = deps.now()
  return await deps.db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select(['id', 'email', 'locale', 'password_hash', 'reset_mailed_at'])
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .forUpdate().executeTakeFirst()
    if (user === undefined) return null
    const before = user.reset_mailed_at
    if (before !== null && now.getTime() - before.getTime() < RESET_EVERY_MS) return null
    if (await sentToMailbox(trx, user.email, 'reset_mailed_at', now) >= RESET_PER_MAILBOX_PER_HOUR) return null
    await trx.updateTable('users').set({ reset_mailed_at: now }).where('id', '=', user.id).execute()
    return { userId: user.id, email: user.email, locale: user.locale, passwordHash: user.password_hash, before }
  })
}

/** Gives back a claim whose e-mail could not go: its owner may ask again at once. */
export async function releaseResetMail (deps: Deps, claim: ResetClaim): Promise<void> {
  await deps.db.updateTable('users').set({ reset_mailed_at: claim.before }).where('id', '=', claim.userId).execute()
}
