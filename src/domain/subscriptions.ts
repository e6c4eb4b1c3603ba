import { type Kysely, type RawBuilder, type Transaction, sql } from 'kysely'
import type { Database, PostKind, Shift, ThreadStatus } from '../db/database.ts'
import { type Actor, requireSignedIn } from './actors.ts'
import type { Deps } from './deps.ts'
import { isSignature, linkSignatures } from './link-signatures.ts'
import { getThread } from './threads.ts'
import { type Thread, idFrom } from './views.ts'

/**
 * Following an incident by e-mail: each official post (an update or a
 * handover) goes to its followers, once each, whatever the number of
 * instances. An address gets nothing before its owner confirms it is theirs.
 */

/** How long a pass holds the follows it claimed; one whose e-mail did not go is tried again after. */
const CLAIM_MS = 2 * 60_000
/**
 * The least time between two e-mails to a follower about one thread: the
 * first update after a quiet spell goes at once; those that follow it within
 * minutes go together, rather than a mail each.
 */
export const FOLLOW_MAIL_GAP_MS = 5 * 60_000
/** At most one link to confirm an address in this time: a form cannot be made to flood someone's mailbox. */
const CONFIRM_RESEND_MS = 10 * 60_000
/**
 * Links to confirm an address sent to one mailbox in an hour, whatever the
 * accounts: alice+1@ and alice+2@ are one mailbox, and accounts made with
 * someone else's address must not flood it.
 */
const CONFIRM_PER_MAILBOX_PER_HOUR = 3
/** The mailbox an address delivers to: lower case, its "+tag" left out (the index `users_mailbox` is on the same). */
const mailboxOf = (email: RawBuilder<unknown> | string) => sql<string>`lower(regexp_replace(${email}, '\\+[^@]*@', '@'))`
/**
 * How many accounts of `email`'s mailbox were sent such a link (`sentAt`) in
 * the last hour. Asks for two accounts of one mailbox at once are counted one
 * after the other: the mailbox stays locked until the transaction ends.
 */
export async function sentToMailbox (trx: Transaction<Database>, email: string, sentAt: 'confirm_mailed_at' | 'reset_mailed_at', now: Date): Promise<number> {
  await sql`select pg_advisory_xact_lock(hashtext(${mailboxOf(email)}))`.execute(trx)
  const { sent } = await trx.selectFrom('users')
    .select(sql<number>`count(*)::int`.as('sent'))
    .where(mailboxOf(sql.ref('email')), '=', mailboxOf(email))
    .where(sentAt, '>', new Date(now.getTime() - 60 * 60_000))
    .executeTakeFirstOrThrow()
  return sent
}
/** An e-mail names at most this many updates; the others are on the page it links to. */
const NEWS_PER_MAIL = 10

export interface Following {
  threadId: number
  title: string
  status: ThreadStatus
}

/** A signed-in user's follow of a thread, as their pages show it. */
export interface FollowState {
  following: boolean
  /** Their address is confirmed: e-mails go. */
  confirmed: boolean
  /** Not confirmed, and no link to confirm it went lately: one may be asked for. */
  canResend: boolean
  /** Its mail server refused it as a recipient: nothing goes to it until it is confirmed again. */
  refused: boolean
  /** Not confirmed, and a link to confirm it was sent (it may be waiting in the mailbox). */
  linkSent: boolean
}

/** Whether a link to confirm an address may go, the last one having gone at `last`. */
const mayResend = (last: Date | null, now: Date) => last === null || now.getTime() - last.getTime() >= CONFIRM_RESEND_MS

/**
 * Starts following: from now on, not the posts already there. Following
 * again changes nothing. Returns the thread followed.
 */
export async function follow (deps: Deps, actor: Actor | null, threadId: number): Promise<Thread> {
  const user = requireSignedIn(actor)
  const thread = await getThread(deps.db, threadId)
  await deps.db.insertInto('subscriptions')
    .values({
      user_id: user.id,
      thread_id: threadId,
      created_at: deps.now(),
      mailed_through: sql<number>`(select coalesce(max(id), 0) from posts where thread_id = ${threadId})`
    })
    .onConflict((oc) => oc.columns(['user_id', 'thread_id']).doNothing())
    .execute()
  deps.readerActed(user.id)
  return thread
}

/** Stops following; stopping again changes nothing. */
export async function unfollow (deps: Deps, userId: number, threadId: number): Promise<void> {
  await deps.db.deleteFrom('subscriptions').where('user_id', '=', userId).where('thread_id', '=', threadId).execute()
  deps.readerActed(userId)
}

export async function followState (deps: Deps, userId: number, threadId: number): Promise<FollowState> {
  const row = await deps.db.selectFrom('users')
    .leftJoin('subscriptions', (join) => join.onRef('subscriptions.user_id', '=', 'users.id').on('subscriptions.thread_id', '=', threadId))
    .select(['users.email_confirmed_at', 'users.confirm_mailed_at', 'users.email_refused_at', 'subscriptions.thread_id'])
    .where('users.id', '=', userId)
    .executeTakeFirstOrThrow()
  const confirmed = row.email_confirmed_at !== null
  return {
    following: row.thread_id !== null,
    confirmed,
    canResend: !confirmed && mayResend(row.confirm_mailed_at, deps.now()),
    refused: !confirmed && row.email_refused_at !== null,
    linkSent: !confirmed && row.confirm_mailed_at !== null
  }
}

/** Whether the mail server of the user's address refused it, and it was not confirmed again since. */
export async function isAddressRefused (db: Kysely<Database>, userId: number): Promise<boolean> {
  const row = await db.selectFrom('users').select(['email_confirmed_at', 'email_refused_at']).where('id', '=', userId).executeTakeFirst()
  return row !== undefined && row.email_confirmed_at === null && row.email_refused_at !== null
}

/** The incidents a user follows, the latest first. */
export async function followedBy (db: Kysely<Database>, userId: number): Promise<Following[]> {
  const rows = await db.selectFrom('subscriptions')
    .innerJoin('threads', 'threads.id', 'subscriptions.thread_id')
    .select(['threads.id', 'threads.title', 'threads.status'])
    .where('subscriptions.user_id', '=', userId)
    .orderBy('threads.id', 'desc')
    .execute()
  return rows.map((row) => ({ threadId: row.id, title: row.title, status: row.status }))
}

/**
 * Takes the right to send a link to confirm the user's address, at most once
 * in `CONFIRM_RESEND_MS`: null when one went lately, or the address is
 * confirmed; 'limited' when its mailbox was sent its links for the hour.
 * Returns the time it was sent before, to give it back if this one cannot go.
 */
export async function claimConfirmMail (deps: Deps, userId: number): Promise<{ before: Date | null } | 'limited' | null> {
  const now = deps.now()
  const claim = await deps.db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select(['email', 'email_confirmed_at', 'confirm_mailed_at'])
      .where('id', '=', userId).forUpdate().executeTakeFirst()
    if (user === undefined || user.email_confirmed_at !== null) return null
    const before = user.confirm_mailed_at
    if (!mayResend(before, now)) return null
    if (await sentToMailbox(trx, user.email, 'confirm_mailed_at', now) >= CONFIRM_PER_MAILBOX_PER_HOUR) return 'limited'
    await trx.updateTable('users').set({ confirm_mailed_at: now }).where('id', '=', userId).execute()
    return { before }
  })
  // Their pages no longer offer to send it again.
  if (claim !== null && claim !== 'limited') deps.readerActed(userId)
  return claim
}

/** Gives back a claim whose e-mail could not go: the user may ask again at once. */
export async function releaseConfirmMail (deps: Deps, userId: number, before: Date | null): Promise<void> {
  await deps.db.updateTable('users').set({ confirm_mailed_at: before }).where('id', '=', userId).execute()
  deps.readerActed(userId)
}

/**
 * Confirms a user's address. The incidents they follow are sent from now on:
 * what was posted while the address waited is on their pages.
 */
export async function confirmAddress (deps: Deps, userId: number, email: string): Promise<boolean> {
  const confirmed = await deps.db.transaction().execute(async (trx) => {
    const row = await trx.updateTable('users')
      .set({ email_confirmed_at: deps.now(), email_refused_at: null })
      .where('id', '=', userId).where('email', '=', email).where('email_confirmed_at', 'is', null)
      .returning('id')
      .executeTakeFirst()
    if (row === undefined) return false
    await trx.updateTable('subscriptions')
      .set({ mailed_through: sql<number>`(select coalesce(max(id), 0) from posts where posts.thread_id = subscriptions.thread_id)` })
      .where('user_id', '=', userId)
      .execute()
    return true
  })
  if (confirmed) deps.readerActed(userId)
  return confirmed
}

/**
 * The mail server of the user's address refused it as a recipient (no such
 * mailbox): it is no longer confirmed, so nothing more is sent to it (each
 * refusal weighs against the forum's mail with the servers it writes to),
 * and its owner may ask for a link to confirm it again (as often as any such
 * link). Only if the user still has that address. Returns whether it was theirs.
 */
export async function addressRefused (deps: Deps, userId: number, email: string): Promise<boolean> {
  const row = await deps.db.updateTable('users')
    .set({ email_confirmed_at: null, email_refused_at: deps.now() })
    .where('id', '=', userId).where('email', '=', email)
    .returning('id')
    .executeTakeFirst()
  if (row !== undefined) deps.readerActed(userId)
  return row !== undefined
}

/** One official post, as an e-mail tells it. */
export interface NewsPost {
  id: number
  kind: PostKind
  body: string
  authorName: string
  shift: Shift | null
  handoverTo: Shift | null
  status: ThreadStatus | null
  createdAt: Date
}

/** What one follower is sent: the thread as it is now, and its official posts since the last e-mail. */
export interface News {
  userId: number
  email: string
  locale: 'en' | 'fr'
  thread: { id: number, title: string, status: ThreadStatus, nextUpdateAt: Date | null }
  /** The latest `NEWS_PER_MAIL` at most, oldest first; none when every post since was hidden. */
  posts: NewsPost[]
  /** Those left out, older than the ones named. */
  earlier: number
  /** The last post sent: the follow's new mark once the e-mail went. */
  through: number
}

/**
 * Claims, for the pass `by`, follows of confirmed addresses whose thread has
 * official posts not sent to them yet, and reads what to send each. A claim
 * lasts `CLAIM_MS`; the pass renews it before each e-mail (`holdClaim`), and
 * another pass takes over a follow only from one that stopped or fell
 * behind (a slow relay): never both send it.
 */
export async function claimNews (deps: Deps, by: string, batch: number): Promise<News[]> {
  const now = deps.now()
  const claimed = await deps.db.updateTable('subscriptions')
    .set({ claimed_by: by, claimed_until: new Date(now.getTime() + CLAIM_MS) })
    .from(sql<{ user_id: number, thread_id: number }>`(
      select s.user_id, s.thread_id from threads t
      join subscriptions s on s.thread_id = t.id and s.mailed_through < t.last_official_post_id
      join users u on u.id = s.user_id and u.email_confirmed_at is not null
      where t.last_official_post_id > 0
        and (s.claimed_until is null or s.claimed_until < ${now})
        and (s.mailed_at is null or s.mailed_at <= ${new Date(now.getTime() - FOLLOW_MAIL_GAP_MS)})
      order by s.thread_id, s.user_id
      limit ${batch}
      for update of s skip locked
    )`.as('due'))
    .whereRef('subscriptions.user_id', '=', sql.ref('due.user_id'))
    .whereRef('subscriptions.thread_id', '=', sql.ref('due.thread_id'))
    .returning(['subscriptions.user_id', 'subscriptions.thread_id', 'subscriptions.mailed_through'])
    .execute()
  if (claimed.length === 0) return []

  const users = new Map((await deps.db.selectFrom('users')
    .select(['id', 'email', 'locale'])
    .where('id', 'in', [...new Set(claimed.map((row) => row.user_id))])
    .execute()).map((row) => [row.id, row]))
  const threads = new Map((await deps.db.selectFrom('threads')
    .select(['id', 'title', 'status', 'next_update_at', 'last_official_post_id'])
    .where('id', 'in', [...new Set(claimed.map((row) => row.thread_id))])
    .execute()).map((row) => [row.id, row]))
  // Followers of a thread mostly share their mark: its posts are read once for each.
  const postsSince = new Map<string, Promise<{ posts: NewsPost[], earlier: number }>>()
  const readSince = (threadId: number, after: number) => {
    const key = `${threadId}:${after}`
    let read = postsSince.get(key)
    if (read === undefined) {
      read = officialPostsSince(deps.db, threadId, after)
      postsSince.set(key, read)
    }
    return read
  }
  const news: News[] = []
  for (const row of claimed) {
    const user = users.get(row.user_id)
    const thread = threads.get(row.thread_id)
    if (user === undefined || thread === undefined) continue
    const { posts, earlier } = await readSince(row.thread_id, row.mailed_through)
    news.push({
      userId: user.id,
      email: user.email,
      locale: user.locale ?? 'en',
      thread: { id: thread.id, title: thread.title, status: thread.status, nextUpdateAt: thread.next_update_at },
      posts,
      earlier,
      // Nothing left to send (every post since was hidden): the mark moves on all the same.
      through: posts.at(-1)?.id ?? thread.last_official_post_id
    })
  }
  return news
}

async function officialPostsSince (db: Kysely<Database>, threadId: number, after: number): Promise<{ posts: NewsPost[], earlier: number }> {
  const rows = await db.selectFrom('posts')
    .innerJoin('users', 'users.id', 'posts.author_id')
    .select(['posts.id', 'posts.kind', 'posts.body', 'posts.shift', 'posts.handover_to', 'posts.status', 'posts.created_at', 'users.name',
      sql<number>`count(*) over ()`.as('total')])
    .where('posts.thread_id', '=', threadId)
    .where('posts.id', '>', after)
    .where('posts.kind', '<>', 'comment')
    .where('posts.hidden_at', 'is', null)
    .orderBy('posts.id', 'desc')
    .limit(NEWS_PER_MAIL)
    .execute()
  const posts = rows.reverse().map((row) => ({
    id: row.id,
    kind: row.kind,
    body: row.body,
    authorName: row.name,
    shift: row.shift,
    handoverTo: row.handover_to,
    status: row.status,
    createdAt: row.created_at
  }))
  return { posts, earlier: rows.length === 0 ? 0 : Number(rows[0]!.total) - rows.length }
}

/**
 * Renews the pass's claim on a follow right before its e-mail goes: false
 * when the follow was stopped meanwhile, or is no longer this pass's; or when
 * a post it would send was hidden since the pass read it (a moderator's
 * second thoughts, seconds after the post): the follow is then let go, and
 * the next pass reads its news again, without it.
 */
export async function holdClaim (deps: Deps, by: string, news: News): Promise<boolean> {
  const ids = news.posts.map((post) => post.id)
  const claim = deps.db.updateTable('subscriptions')
    .where('user_id', '=', news.userId)
    .where('thread_id', '=', news.thread.id)
    .where('claimed_by', '=', by)
  const held = await claim
    .set({ claimed_until: new Date(deps.now().getTime() + CLAIM_MS) })
    .$if(ids.length > 0, (q) => q.where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('posts').select('id').where('id', 'in', ids).where('hidden_at', 'is not', null)))))
    .executeTakeFirst()
  if (held.numUpdatedRows > 0n) return true
  // Not held: lost, stopped, or one of its posts hidden; still this pass's, it is let go.
  if (ids.length > 0) await claim.set({ claimed_by: null, claimed_until: null }).execute()
  return false
}

/**
 * The e-mail of `news` went (or had nothing to say, or was refused for good):
 * the follow's mark moves past it, and the pass lets it go. `deliveredAt`:
 * when it was taken by the mail server, which the next e-mail waits a gap after.
 */
export async function newsSent (db: Kysely<Database>, by: string, news: News, deliveredAt: Date | null): Promise<void> {
  await db.updateTable('subscriptions')
    .set((eb) => ({
      mailed_through: eb.fn('greatest', ['mailed_through', sql.lit(news.through)]),
      claimed_by: null,
      claimed_until: null,
      ...(deliveredAt !== null && { mailed_at: deliveredAt })
    }))
    .where('user_id', '=', news.userId)
    .where('thread_id', '=', news.thread.id)
    .where('claimed_by', '=', by)
    .execute()
}

/** A stopping pass lets go of what it claimed and did not send: another instance sends it at once. */
export async function releaseClaims (db: Kysely<Database>, by: string): Promise<void> {
  await db.updateTable('subscriptions').set({ claimed_by: null, claimed_until: null }).where('claimed_by', '=', by).execute()
}

/**
 * The links in e-mails: each one proves, by a signature made with the
 * instance's secret, which follow it stops or which address it confirms, so
 * that it works from a mail client with nobody signed in.
 */
export interface LinkSigner {
  stopToken: (userId: number, threadId: number) => string
  readStopToken: (token: string) => { userId: number, threadId: number } | null
  confirmToken: (userId: number, email: string) => string
  /** The user a confirm link is for; the address it was made for is checked when confirming. */
  readConfirmToken: (token: string, emailOf: (userId: number) => Promise<string | undefined>) => Promise<{ userId: number, email: string } | null>
}

export function linkSigner (secret: string): LinkSigner {
  const { sign, matches } = linkSignatures(secret, 'sitrep follow links, v1')
  const ids = (parts: string[]) => {
    const numbers = parts.map(idFrom)
    return numbers.every((id) => id !== undefined) ? numbers as number[] : null
  }
  return {
    stopToken: (userId, threadId) => `${userId}.${threadId}.${sign('stop', userId, threadId)}`,
    readStopToken: (token) => {
      const [user = '', thread = '', signature = '', ...rest] = token.split('.')
      const numbers = ids([user, thread])
      if (numbers === null || rest.length > 0) return null
      const [userId, threadId] = numbers as [number, number]
      return matches(signature, 'stop', userId, threadId) ? { userId, threadId } : null
    },
    confirmToken: (userId, email) => `${userId}.${sign('confirm', userId, email)}`,
    readConfirmToken: async (token, emailOf) => {
      const [user = '', signature = '', ...rest] = token.split('.')
      const numbers = ids([user])
      if (numbers === null || rest.length > 0 || !isSignature(signature)) return null
      const userId = numbers[0]!
      const email = await emailOf(userId)
      if (email === undefined) return null
      return matches(signature, 'confirm', userId, email) ? { userId, email } : null
    }
  }
}
