import type { Kysely, Transaction } from 'kysely'
import type { Database, FlagReason } from '../db/database.ts'
import { appendEvent } from '../live/events.ts'
import { type Actor, requireModerator, requireSignedIn } from './actors.ts'
import { recordAudit } from './audit.ts'
import { type Deps, commitThenPublish } from './deps.ts'
import { badRequest, conflict, notFound } from './errors.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { PENDING_REVIEW, loadPost, unpinHidden } from './posts.ts'
import { lockThread } from './threads.ts'
import type { Post } from './views.ts'

export const FLAG_REASONS: readonly FlagReason[] = ['spam', 'rumour', 'abusive']
/**
 * Flags from this many distinct users hide a customer's comment until a
 * moderator reviews it: users whose accounts were made before the comment,
 * so that accounts made to silence it (sign-up asks no proof) do not count.
 * Theirs still put it in the moderators' queue.
 */
export const FLAGS_TO_HIDE = 3
export function validateFlagReason (reason: string): FlagReason {
  if (!FLAG_REASONS.includes(reason as FlagReason)) throw badRequest('invalid_flag_reason', `The reason must be one of ${FLAG_REASONS.join(', ')}.`)
  return reason as FlagReason
}

export interface FlagResult { postId: number, reason: FlagReason, hidden: boolean }

/** Which of these posts the user has flagged (whatever became of the flag): they are not offered to flag them again. */
export async function flaggedBy (db: Kysely<Database>, userId: number, postIds: readonly number[]): Promise<Set<number>> {
  if (postIds.length === 0) return new Set()
  const rows = await db.selectFrom('flags').select('post_id').where('user_id', '=', userId).where('post_id', 'in', postIds).execute()
  return new Set(rows.map((row) => row.post_id))
}

/**
 * A signed-in user flags a comment, once. Flagging is not public; only the
 * hiding it may cause is, as the thread's event.
 */
export async function flagPost (deps: Deps, actor: Actor | null, postId: number, input: { reason: string }, idem?: IdempotencyKey): Promise<FlagResult> {
  const user = requireSignedIn(actor)
  const reason = validateFlagReason(input.reason)
  const flagged = await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, user.id, idem, 201, async () => {
    const ref = await trx.selectFrom('posts').select('thread_id').where('id', '=', postId).executeTakeFirst()
    if (ref === undefined) throw notFound('post')
    const thread = await lockThread(trx, ref.thread_id)
    const post = await loadPost(trx, postId)
    if (post.kind !== 'comment') throw badRequest('flag_not_comment', 'Only comments can be flagged.')
    if (post.author.id === user.id) throw badRequest('flag_own_post', 'You cannot flag your own comment.')
    if (post.hidden) throw conflict('flag_hidden', 'This comment is already hidden.')
    const inserted = await trx.insertInto('flags')
      .values({ post_id: postId, user_id: user.id, reason, created_at: deps.now() })
      .onConflict((oc) => oc.columns(['post_id', 'user_id']).doNothing())
      .returning('id')
      .executeTakeFirst()
    if (inserted === undefined) throw conflict('already_flagged', 'You have already flagged this comment.')
    // Staff words are never hidden by a crowd: their flags wait for a moderator.
    if (post.author.role !== 'customer') return { postId, reason, hidden: false }
    const { count } = await openFlags(trx, postId)
      .innerJoin('users', 'users.id', 'flags.user_id')
      .where('users.created_at', '<=', new Date(post.createdAt))
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .executeTakeFirstOrThrow()
    if (Number(count) < FLAGS_TO_HIDE) return { postId, reason, hidden: false }
    await trx.updateTable('posts').set({ hidden_at: deps.now(), hidden_by: null, hidden_reason: PENDING_REVIEW }).where('id', '=', postId).execute()
    // No moderator did it, but the log says what happened, by whose flag, and what it unpinned.
    const unpinned = thread.pinned_post_id === postId
    await recordAudit(trx, user, {
      action: 'flags.autohide',
      threadId: post.threadId,
      postId,
      before: { hidden: false, ...(unpinned && { pinnedPostId: postId }) },
      after: { hidden: true, flags: Number(count), ...(unpinned && { pinnedPostId: null }) },
      reason: PENDING_REVIEW
    })
    emit(await appendEvent(trx, post.threadId, 'post.hidden', { post: await loadPost(trx, postId) }))
    await unpinHidden(trx, deps, unpinned ? thread.id : null, emit)
    return { postId, reason, hidden: true }
  }))
  // Their pages say they flagged it, instead of offering the form again.
  deps.readerActed(user.id)
  return flagged
}

const openFlags = (db: Kysely<Database> | Transaction<Database>, postId: number) =>
  db.selectFrom('flags').where('post_id', '=', postId).where('resolved_at', 'is', null)

export interface FlaggedPost {
  post: Post
  count: number
  reasons: Record<FlagReason, number>
  /** Hidden by its flags, waiting for a moderator. */
  pendingReview: boolean
  lastFlaggedAt: string
}

/** The posts with open flags, those hidden pending review first, then the most flagged. */
export async function listFlagQueue (db: Kysely<Database>, actor: Actor | null): Promise<FlaggedPost[]> {
  requireModerator(actor)
  const rows = await db.selectFrom('flags')
    .select(['post_id', 'reason', (eb) => eb.fn.countAll<string>().as('count'), (eb) => eb.fn.max('created_at').as('last')])
    .where('resolved_at', 'is', null)
    .groupBy(['post_id', 'reason'])
    .execute()
  const byPost = new Map<number, { reasons: Record<FlagReason, number>, count: number, last: Date }>()
  for (const row of rows) {
    const entry = byPost.get(row.post_id) ?? { reasons: { spam: 0, rumour: 0, abusive: 0 }, count: 0, last: new Date(0) }
    entry.reasons[row.reason] = Number(row.count)
    entry.count += Number(row.count)
    const last = new Date(row.last as Date | string)
    if (last > entry.last) entry.last = last
    byPost.set(row.post_id, entry)
  }
  const queue: FlaggedPost[] = []
  for (const [postId, entry] of byPost) {
    const post = await loadPost(db, postId)
    queue.push({ post, count: entry.count, reasons: entry.reasons, pendingReview: post.hidden && post.hiddenReason === PENDING_REVIEW, lastFlaggedAt: entry.last.toISOString() })
  }
  return queue.sort((a, b) => Number(b.pendingReview) - Number(a.pendingReview) || b.count - a.count || b.lastFlaggedAt.localeCompare(a.lastFlaggedAt))
}

async function resolveFlags (trx: Transaction<Database>, moderator: Actor, postId: number, resolution: 'hidden' | 'dismissed', now: Date) {
  const open = await openFlags(trx, postId).select('reason').execute()
  if (open.length === 0) throw notFound('flag')
  await trx.updateTable('flags').set({ resolved_at: now, resolved_by: moderator.id, resolution })
    .where('post_id', '=', postId).where('resolved_at', 'is', null).execute()
  const counts = new Map<FlagReason, number>()
  for (const { reason } of open) counts.set(reason, (counts.get(reason) ?? 0) + 1)
  // The most given reason becomes the hide reason.
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0]
}

/** One click from the queue: hides the comment with its flags' reason and closes them. */
export async function hideFlagged (deps: Deps, actor: Actor | null, postId: number, idem?: IdempotencyKey): Promise<Post> {
  const moderator = requireModerator(actor)
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, moderator.id, idem, 200, async () => {
    const ref = await trx.selectFrom('posts').select('thread_id').where('id', '=', postId).executeTakeFirst()
    if (ref === undefined) throw notFound('post')
    const thread = await lockThread(trx, ref.thread_id)
    const before = await loadPost(trx, postId)
    const reason = await resolveFlags(trx, moderator, postId, 'hidden', deps.now())
    await trx.updateTable('posts').set({ hidden_at: deps.now(), hidden_by: moderator.id, hidden_reason: reason }).where('id', '=', postId).execute()
    await recordAudit(trx, moderator, {
      action: 'flags.hide',
      threadId: before.threadId,
      postId,
      before: { hidden: before.hidden, reason: before.hiddenReason },
      after: { hidden: true, reason },
      reason
    })
    const hidden = await loadPost(trx, postId)
    emit(await appendEvent(trx, before.threadId, 'post.hidden', { post: hidden }))
    await unpinHidden(trx, deps, thread.pinned_post_id === postId ? thread.id : null, emit)
    return hidden
  }))
}

/** One click from the queue: the flags were wrong; a comment hidden pending review comes back. */
export async function dismissFlags (deps: Deps, actor: Actor | null, postId: number, idem?: IdempotencyKey): Promise<Post> {
  const moderator = requireModerator(actor)
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, moderator.id, idem, 200, async () => {
    const ref = await trx.selectFrom('posts').select('thread_id').where('id', '=', postId).executeTakeFirst()
    if (ref === undefined) throw notFound('post')
    await lockThread(trx, ref.thread_id)
    const before = await loadPost(trx, postId)
    await resolveFlags(trx, moderator, postId, 'dismissed', deps.now())
    const pending = before.hidden && before.hiddenReason === PENDING_REVIEW
    if (pending) await trx.updateTable('posts').set({ hidden_at: null, hidden_by: null, hidden_reason: null }).where('id', '=', postId).execute()
    await recordAudit(trx, moderator, {
      action: 'flags.dismiss',
      threadId: before.threadId,
      postId,
      before: { hidden: before.hidden, reason: before.hiddenReason },
      after: { hidden: pending ? false : before.hidden }
    })
    const after = await loadPost(trx, postId)
    if (pending) emit(await appendEvent(trx, before.threadId, 'post.restored', { post: after }))
    return after
  }))
}
