import type { Kysely } from 'kysely'
import type { Database, Role } from '../db/database.ts'
import { appendEvent } from '../live/events.ts'
import { type Actor, isModerator, requireModerator } from './actors.ts'
import { recordAudit } from './audit.ts'
import { type Deps, commitThenPublish } from './deps.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { badRequest, notFound } from './errors.ts'
import { recordPin } from './pins.ts'
import { insertPost, loadPost, loadPosts, validateBody } from './posts.ts'
import { lockThread, toThread } from './threads.ts'
import { type Post, iso, postForReader } from './views.ts'

export interface PinnedState {
  post: Post
  pinnedBy: { id: number, name: string }
  pinnedAt: string
  unpinnedAt: string | null
}

/** Every state pinned on a thread, newest first; the current one has no unpinnedAt. */
export async function listPins (db: Kysely<Database>, threadId: number, viewer: Actor | null): Promise<PinnedState[]> {
  const canSeeHidden = isModerator(viewer)
  return (await loadPins(db, threadId)).map((pin) => ({ ...pin, post: postForReader(pin.post, canSeeHidden) }))
}

/**
 * The same, hidden posts whole: for callers that show each reader what they
 * may see. A caller that has just read the thread says so (`threadRead`): no
 * pins then means none, and the thread is not looked up again.
 */
export async function loadPins (db: Kysely<Database>, threadId: number, threadRead = false): Promise<PinnedState[]> {
  const rows = await db.selectFrom('pins')
    .innerJoin('users', 'users.id', 'pins.pinned_by')
    .select(['pins.post_id', 'pins.pinned_at', 'pins.unpinned_at', 'users.id as user_id', 'users.name'])
    .where('pins.thread_id', '=', threadId)
    .orderBy('pins.id', 'desc')
    .limit(100)
    .execute()
  if (rows.length === 0 && !threadRead && await db.selectFrom('threads').select('id').where('id', '=', threadId).executeTakeFirst() === undefined) {
    throw notFound('thread')
  }
  const posts = await loadPosts(db, rows.map((row) => row.post_id))
  return rows.map((row) => ({
    post: posts.get(row.post_id)!,
    pinnedBy: { id: row.user_id, name: row.name },
    pinnedAt: row.pinned_at.toISOString(),
    unpinnedAt: iso(row.unpinned_at)
  }))
}

/**
 * A moderator writes a summary of the current state as an update and pins it,
 * in one action. The technicians' promise of the next update stands: the
 * summary repeats it, and does not make or cancel one.
 */
export async function postAndPinSummary (deps: Deps, actor: Actor | null, threadId: number, input: { body: string }, idem?: IdempotencyKey): Promise<Post> {
  const moderator = requireModerator(actor)
  const body = validateBody(input.body)
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, moderator.id, idem, 201, async () => {
    const before = await lockThread(trx, threadId)
    const { post } = await insertPost(trx, deps, moderator, before, { body, kind: 'update', replyTo: null, status: null, nextUpdateAt: before.next_update_at })
    emit(await appendEvent(trx, threadId, 'post.created', { post }))
    await trx.updateTable('threads').set({ pinned_post_id: post.id }).where('id', '=', threadId).execute()
    const unpinned = await recordPin(trx, moderator, threadId, post.id, deps.now())
    await recordAudit(trx, moderator, { action: 'thread.pin', threadId, postId: post.id, before: { pinnedPostId: before.pinned_post_id }, after: { pinnedPostId: post.id } })
    const thread = toThread(await trx.selectFrom('threads').selectAll().where('id', '=', threadId).executeTakeFirstOrThrow())
    emit(await appendEvent(trx, threadId, 'thread.updated', { thread, pinnedPost: post, unpinned }))
    return post
  }))
}

/** Links a customer's question to the update that answers it; null unlinks. */
export async function setAnswer (deps: Deps, actor: Actor | null, questionId: number, updateId: number | null): Promise<Post> {
  const moderator = requireModerator(actor)
  return await commitThenPublish(deps, async (trx, emit) => {
    const ref = await trx.selectFrom('posts').select('thread_id').where('id', '=', questionId).executeTakeFirst()
    if (ref === undefined) throw notFound('post')
    await lockThread(trx, ref.thread_id)
    const question = await loadPost(trx, questionId)
    if (question.kind !== 'comment') throw badRequest('not_a_question', 'Only a comment can be answered by an update.')
    if (updateId !== null) {
      const update = await trx.selectFrom('posts').select(['thread_id', 'kind', 'hidden_at']).where('id', '=', updateId).executeTakeFirst()
      if (update === undefined || update.thread_id !== question.threadId || update.kind === 'comment' || update.hidden_at !== null) {
        throw badRequest('invalid_answer', 'The answer must be a visible update of the same thread.')
      }
    }
    if (question.answeredBy === updateId) return question
    await trx.updateTable('posts').set({ answered_by: updateId }).where('id', '=', questionId).execute()
    await recordAudit(trx, moderator, {
      action: updateId === null ? 'post.unanswer' : 'post.answer',
      threadId: question.threadId,
      postId: questionId,
      before: { answeredBy: question.answeredBy },
      after: { answeredBy: updateId }
    })
    const linked = await loadPost(trx, questionId)
    emit(await appendEvent(trx, question.threadId, 'post.updated', { post: linked }))
    return linked
  })
}

export interface AuditRow {
  id: number
  /** Null for the server's operator, at the command line. */
  actor: { id: number, name: string } | null
  action: string
  threadId: number | null
  postId: number | null
  targetUserId: number | null
  /** The target user's name as it is now. */
  targetName: string | null
  before: unknown
  after: unknown
  reason: string | null
  createdAt: string
}

export const AUDIT_PAGE = 200

/**
 * Whom the audit log can be filtered by: the staff, whose acts it records,
 * and `also` (someone else whose act is being looked at), by name.
 */
export async function auditActors (db: Kysely<Database>, actor: Actor | null, also?: number): Promise<Array<{ id: number, name: string, role: Role }>> {
  requireModerator(actor)
  return await db.selectFrom('users').select(['id', 'name', 'role'])
    .where((eb) => also === undefined ? eb('role', '<>', 'customer') : eb.or([eb('role', '<>', 'customer'), eb('id', '=', also)]))
    .orderBy('name').orderBy('id')
    .execute()
}

/** The audit log, newest first, for moderators and admins. */
export async function listAudit (db: Kysely<Database>, actor: Actor | null, filter: { threadId?: number, actorId?: number, before?: number }): Promise<AuditRow[]> {
  requireModerator(actor)
  let q = db.selectFrom('audit_log')
    .leftJoin('users', 'users.id', 'audit_log.actor_id')
    .leftJoin('users as target', 'target.id', 'audit_log.target_user_id')
    .select(['audit_log.id', 'audit_log.action', 'audit_log.thread_id', 'audit_log.post_id', 'audit_log.target_user_id', 'target.name as target_name',
      'audit_log.before', 'audit_log.after', 'audit_log.reason', 'audit_log.created_at', 'users.id as actor_id', 'users.name as actor_name'])
  if (filter.threadId !== undefined) q = q.where('audit_log.thread_id', '=', filter.threadId)
  if (filter.actorId !== undefined) q = q.where('audit_log.actor_id', '=', filter.actorId)
  if (filter.before !== undefined) q = q.where('audit_log.id', '<', filter.before)
  const rows = await q.orderBy('audit_log.id', 'desc').limit(AUDIT_PAGE).execute()
  return rows.map((row) => ({
    id: row.id,
    actor: row.actor_id === null || row.actor_name === null ? null : { id: row.actor_id, name: row.actor_name },
    action: row.action,
    threadId: row.thread_id,
    postId: row.post_id,
    targetUserId: row.target_user_id,
    targetName: row.target_name,
    before: row.before,
    after: row.after,
    reason: row.reason,
    createdAt: row.created_at.toISOString()
  }))
}
