import type { Kysely, Transaction } from 'kysely'
import type { Database, PostKind, ThreadRow, ThreadStatus } from '../db/database.ts'
import { type ThreadEvent, appendEvent, appendEvents } from '../live/events.ts'
import { type Actor, isModerator, isStaff, requireModerator, requireSignedIn } from './actors.ts'
import { recordAudit } from './audit.ts'
import { type Deps, commitThenPublish } from './deps.ts'
import { AppError, badRequest, conflict, forbidden, notFound, tooMany } from './errors.ts'
import { handoverLeads } from './duty.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { renderMarkdown } from './markdown.ts'
import { storable } from './text.ts'
import { checkCrisisMode, checkPostingLimits } from './limits.ts'
import { closePin } from './pins.ts'
import { nextShift, shiftOfAuthor } from './shifts.ts'
import { lockThread, toThread, validateStatus } from './threads.ts'
import { type Post, iso, postForReader } from './views.ts'

export const BODY_MAX = 20_000
export const REASON_MAX = 500
export const KINDS: readonly PostKind[] = ['update', 'handover', 'comment']
/** How far ahead an update may promise the next one. */
const PROMISE_HORIZON_MS = 7 * 24 * 60 * 60 * 1000
const PAGE_MAX = 200

export function validateBody (body: string): string {
  const trimmed = storable(body).trim()
  if (trimmed.length < 1) throw badRequest('empty_body', 'Write something first.')
  if (trimmed.length > BODY_MAX) throw badRequest('body_too_long', `A post is at most ${BODY_MAX} characters long.`)
  return trimmed
}

/** A post's columns but its Markdown source, which pages do not show. */
const SHOWN_COLUMNS = [
  'id', 'thread_id', 'kind', 'html', 'shift', 'handover_to', 'reply_to', 'status', 'next_update_at',
  'created_at', 'edited_at', 'hidden_at', 'hidden_reason', 'answered_by'
] as const
const POST_COLUMNS = [...SHOWN_COLUMNS, 'body'] as const

/** Posts with their author; `source`: with the Markdown they were written in, which pages do not show. */
function selectPosts (db: Kysely<Database> | Transaction<Database>, source = true) {
  return db.selectFrom('posts')
    .innerJoin('users', 'users.id', 'posts.author_id')
    .select(SHOWN_COLUMNS.map((column) => `posts.${column}` as const))
    .$if(source, (query) => query.select('posts.body'))
    .select(['users.id as author_id', 'users.name as author_name', 'users.role as author_role'])
}

type PostRecord = Awaited<ReturnType<ReturnType<typeof selectPosts>['executeTakeFirstOrThrow']>>

function toPost (row: PostRecord): Post {
  return {
    id: row.id,
    threadId: row.thread_id,
    kind: row.kind,
    ...(row.body !== undefined && { body: row.body }),
    html: row.html,
    author: { id: row.author_id, name: row.author_name, role: row.author_role },
    shift: row.shift,
    handoverTo: row.handover_to,
    replyTo: row.reply_to,
    createdAt: row.created_at.toISOString(),
    editedAt: iso(row.edited_at),
    hidden: row.hidden_at !== null,
    hiddenReason: row.hidden_reason,
    status: row.status,
    nextUpdateAt: iso(row.next_update_at),
    answeredBy: row.answered_by
  }
}

export async function loadPost (db: Kysely<Database> | Transaction<Database>, id: number): Promise<Post> {
  const row = await selectPosts(db).where('posts.id', '=', id).executeTakeFirst()
  if (row === undefined) throw notFound('post')
  return toPost(row)
}

/** Several posts by id, in one query; the ones that do not exist are left out. */
export async function loadPosts (db: Kysely<Database>, ids: readonly number[]): Promise<Map<number, Post>> {
  if (ids.length === 0) return new Map()
  const rows = await selectPosts(db).where('posts.id', 'in', [...new Set(ids)]).execute()
  return new Map(rows.map((row) => [row.id, toPost(row)]))
}

export async function getPost (db: Kysely<Database>, id: number, viewer: Actor | null): Promise<Post> {
  return postForReader(await loadPost(db, id), isModerator(viewer))
}

export interface PostQuery {
  /** Only posts with a greater id. */
  after?: number
  limit?: number
  /** 'update' keeps the official posts: updates and handovers. */
  kind?: 'update' | 'comment'
}

/** A thread's posts in id order; hidden ones keep their place without their text. */
export async function listPosts (db: Kysely<Database>, threadId: number, query: PostQuery, viewer: Actor | null): Promise<Post[]> {
  const canSeeHidden = isModerator(viewer)
  return (await loadThreadPosts(db, threadId, query)).map((post) => postForReader(post, canSeeHidden))
}

/**
 * A thread's posts in id order, hidden ones whole: for callers that show each
 * reader what they may see. Without `source`, their HTML only (for pages).
 */
export async function loadThreadPosts (db: Kysely<Database>, threadId: number, query: PostQuery, source = true): Promise<Post[]> {
  let q = selectPosts(db, source).where('posts.thread_id', '=', threadId)
  if (query.after !== undefined) q = q.where('posts.id', '>', query.after)
  if (query.kind === 'update') q = q.where('posts.kind', 'in', ['update', 'handover'])
  if (query.kind === 'comment') q = q.where('posts.kind', '=', 'comment')
  const rows = await q.orderBy('posts.id').limit(Math.min(query.limit ?? PAGE_MAX, PAGE_MAX)).execute()
  // No posts: a thread past its last one, or no thread at all.
  if (rows.length === 0 && await db.selectFrom('threads').select('id').where('id', '=', threadId).executeTakeFirst() === undefined) {
    throw notFound('thread')
  }
  return rows.map(toPost)
}

/** A stretch of a thread's posts as its page shows them, and whether the thread goes on either side of it. */
export interface PostPage { posts: Post[], earlier: boolean, later: boolean }

/**
 * A thread's page of posts in id order, hidden ones whole, without their
 * Markdown: the latest `size` by default (what a reader opening the thread
 * during an outage wants), or those after or before a post.
 */
export async function loadPostPage (
  db: Kysely<Database>,
  threadId: number,
  query: { official: boolean, after?: number | undefined, before?: number | undefined },
  size: number
): Promise<PostPage> {
  let q = selectPosts(db, false).where('posts.thread_id', '=', threadId)
  if (query.official) q = q.where('posts.kind', 'in', ['update', 'handover'])
  // One more than shown says whether the thread goes on.
  if (query.after !== undefined) {
    const rows = await q.where('posts.id', '>', query.after).orderBy('posts.id').limit(size + 1).execute()
    return { posts: rows.slice(0, size).map(toPost), earlier: query.after > 0, later: rows.length > size }
  }
  if (query.before !== undefined) q = q.where('posts.id', '<', query.before)
  const rows = await q.orderBy('posts.id', 'desc').limit(size + 1).execute()
  return { posts: rows.slice(0, size).reverse().map(toPost), earlier: rows.length > size, later: query.before !== undefined }
}

/** Whether a post is among its thread's latest `size`: on the page a thread opens on. */
export async function amongLatest (db: Kysely<Database>, threadId: number, postId: number, size: number): Promise<boolean> {
  const later = await db.selectFrom('posts').select('id')
    .where('thread_id', '=', threadId).where('id', '>', postId)
    .limit(size).execute()
  return later.length < size
}

export interface NewPost {
  body: string
  kind?: string
  replyTo?: number | null
  /** The status the post sets; null, as a post that set none says of itself, sets none. */
  status?: string | null
  nextUpdateAt?: string | null
}

interface CheckedPost {
  body: string
  kind: PostKind
  replyTo: number | null
  status: ThreadStatus | null
  nextUpdateAt: Date | null
}

function checkNewPost (author: Actor, input: NewPost, now: Date): CheckedPost {
  const staff = isStaff(author)
  const kind = (input.kind ?? (staff ? 'update' : 'comment')) as PostKind
  if (!KINDS.includes(kind)) throw badRequest('invalid_kind', `The kind must be one of ${KINDS.join(', ')}.`)
  if (!staff && kind !== 'comment') throw forbidden('staff_only', 'Only staff post official updates.')
  const official = kind !== 'comment'
  const asked = input.status ?? null
  const wantsStatus = asked !== null || (input.nextUpdateAt ?? null) !== null
  if (wantsStatus && !staff) throw forbidden('staff_only', 'Only staff set the status or promise the next update.')
  if (wantsStatus && !official) {
    // Said of what was asked: a status, or else a promise.
    const what = asked !== null ? 'status' : 'next'
    throw new AppError(400, 'status_on_comment', 'A comment cannot set the status or the next update; post an update.', undefined, `errors.status_on_comment.${what}`)
  }
  const status = asked === null ? null : validateStatus(asked)
  return { body: validateBody(input.body), kind, replyTo: input.replyTo ?? null, status, nextUpdateAt: validatePromise(input.nextUpdateAt, now) }
}

/**
 * A date and time that says its offset from UTC: ISO 8601 (`2026-11-25T16:30:00Z`,
 * `…T17:30+01:00`), or HTTP's (`Wed, 25 Nov 2026 16:30:00 GMT`, what
 * `toUTCString()` writes). Without one, a time would be read by the server
 * process's own clock, which nothing the caller knows of: a script would
 * promise the wrong hour without a word.
 */
const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})$/
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/

/** Whether `value` names a moment with its offset, and a day the calendar has (V8 reads 30 February as 2 March). */
function isZonedDateTime (value: string): boolean {
  if (HTTP_DATE.test(value)) return true
  const iso = ISO_WITH_OFFSET.exec(value)
  if (iso === null) return false
  const [year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])]
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** A promised next update: a valid time within the coming week, or none. */
export function validatePromise (value: string | null | undefined, now: Date): Date | null {
  if (value === undefined || value === null) return null
  const nextUpdateAt = new Date(value)
  if (!isZonedDateTime(value) || Number.isNaN(nextUpdateAt.getTime())) {
    throw new AppError(400, 'invalid_next_update', 'The next update time must be a date and time with its offset from UTC, e.g. 2026-11-25T16:30:00Z.', undefined, 'errors.invalid_next_update.date')
  }
  if (nextUpdateAt.getTime() <= now.getTime() || nextUpdateAt.getTime() > now.getTime() + PROMISE_HORIZON_MS) {
    throw badRequest('invalid_next_update', 'The next update must be promised for a time within the coming week.')
  }
  return nextUpdateAt
}

/**
 * Writes a checked post and what it changes in its thread; the caller holds
 * the thread's lock and passes its row. Returns the post and the thread after it.
 */
export async function insertPost (trx: Transaction<Database>, deps: Deps, author: Actor, thread: ThreadRow, post: CheckedPost): Promise<{ post: Post, thread: ThreadRow }> {
  const now = deps.now()
  const official = post.kind !== 'comment'
  // Every staff post, a comment too, says which shift wrote it; customers have none.
  const shift = shiftOfAuthor(author, now, deps.timeZone, deps.shiftHours, post.kind === 'handover' ? 'handover' : 'post')
  // A resolved incident promises no more updates: a post-mortem posted on it
  // with the form's usual "next update in 30 min" must not make it overdue.
  const resolved = (post.status ?? thread.status) === 'resolved'
  const nextUpdateAt = resolved ? null : official && post.nextUpdateAt === null ? cadencePromise(thread, post.status, now) : post.nextUpdateAt
  const row = await trx.insertInto('posts').values({
    thread_id: thread.id,
    author_id: author.id,
    kind: post.kind,
    body: post.body,
    html: renderMarkdown(post.body),
    shift,
    handover_to: post.kind === 'handover' && shift !== null ? nextShift(shift, deps.shiftHours) : null,
    reply_to: post.replyTo,
    status: post.status,
    next_update_at: nextUpdateAt,
    created_at: now
  }).returning(POST_COLUMNS).executeTakeFirstOrThrow()
  const after = await trx.updateTable('threads')
    .set((eb) => ({
      post_count: eb('post_count', '+', 1),
      last_post_at: now,
      ...(post.status !== null && { status: post.status }),
      // An official update keeps its promise and makes the next one, or
      // none; its thread's followers are due it by e-mail.
      ...(official && { next_update_at: nextUpdateAt, last_official_post_id: row.id })
    }))
    .where('id', '=', thread.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  // The author is the one writing: the post is whole without reading it back.
  return { post: toPost({ ...row, author_id: author.id, author_name: author.name, author_role: author.role }), thread: after }
}

/** An update that promises nothing keeps the thread's cadence, while the incident is not resolved. */
function cadencePromise (thread: ThreadRow, status: ThreadStatus | null, now: Date): Date | null {
  if (thread.cadence_minutes === null || (status ?? thread.status) === 'resolved') return null
  return new Date(now.getTime() + thread.cadence_minutes * 60_000)
}

/** Posts in a thread: staff updates and handovers, or anyone's comment. */
export async function createPost (deps: Deps, actor: Actor | null, threadId: number, input: NewPost, idem?: IdempotencyKey, alsoDo?: (trx: Transaction<Database>) => Promise<void>): Promise<Post> {
  const author = requireSignedIn(actor)
  const now = deps.now()
  // With a key, it is looked up first: a retry sent after its promised next
  // update has passed gets the first answer, not a 400 for a promise now past.
  const checked = idem === undefined ? checkNewPost(author, input, now) : null
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, author.id, idem, 201, async () => {
    const post = checked ?? checkNewPost(author, input, now)
    const thread = await lockThread(trx, threadId)
    if (thread.locked && !isStaff(author)) throw forbidden('thread_locked', 'This thread is locked: only staff can post in it.')
    if (!isStaff(author)) {
      const slowMode = checkCrisisMode(thread)
      if (slowMode > 0) await checkSlowMode(trx, author, threadId, slowMode, now)
      await checkPostingLimits(trx, deps.postingLimits, author, now)
    }
    if (post.replyTo !== null) {
      const parent = await trx.selectFrom('posts').select('thread_id').where('id', '=', post.replyTo).executeTakeFirst()
      if (parent === undefined || parent.thread_id !== threadId) throw badRequest('invalid_reply', 'You can only reply to a post of the same thread.')
    }
    const { post: created, thread: after } = await insertPost(trx, deps, author, thread, post)
    // What goes with the post, or not at all; a retry answered from its key does it no more.
    await alsoDo?.(trx)
    const events = await appendEvents(trx, threadId, [
      { type: 'post.created', post: created, ...(created.kind === 'handover' && await handoverLeadOf(trx, created)) },
      // An official post may change the status and the promised next update.
      ...(post.kind !== 'comment' ? [{ type: 'thread.updated' as const, thread: toThread(after) }] : [])
    ])
    for (const event of events) emit(event)
    return created
  }))
}

/** The incoming shift's lead already on duty, for a live handover post to name. */
async function handoverLeadOf (trx: Transaction<Database>, handover: Post): Promise<{ handoverLead?: string }> {
  const lead = (await handoverLeads(trx, [handover]))[handover.id]
  return lead === undefined ? {} : { handoverLead: lead }
}

async function checkSlowMode (trx: Transaction<Database>, author: Actor, threadId: number, seconds: number, now: Date): Promise<void> {
  const last = await trx.selectFrom('posts').select('created_at')
    .where('author_id', '=', author.id).where('thread_id', '=', threadId)
    .orderBy('created_at', 'desc').limit(1)
    .executeTakeFirst()
  if (last === undefined) return
  const wait = Math.ceil((last.created_at.getTime() + seconds * 1000 - now.getTime()) / 1000)
  if (wait > 0) throw tooMany('slow_mode', `Slow mode is on in this thread: you can post again in ${wait} s.`, wait)
}

async function lockPostThread (trx: Transaction<Database>, postId: number) {
  const ref = await trx.selectFrom('posts').select('thread_id').where('id', '=', postId).executeTakeFirst()
  if (ref === undefined) throw notFound('post')
  const thread = await lockThread(trx, ref.thread_id)
  return { thread, post: await loadPost(trx, postId) }
}

/**
 * Its author or a moderator edits a post; the text it replaces is kept as a
 * revision. `editedAt`, when given, is the post's as the editor found it
 * (null: never edited): had someone else changed it since, saving over their
 * change is refused.
 */
export async function editPost (deps: Deps, actor: Actor | null, postId: number, input: { body: string, editedAt?: string | null }): Promise<Post> {
  const editor = requireSignedIn(actor)
  const body = validateBody(input.body)
  return await commitThenPublish(deps, async (trx, emit) => {
    const { thread, post } = await lockPostThread(trx, postId)
    const moderator = isModerator(editor)
    if (post.author.id !== editor.id && !moderator) throw forbidden('not_author', 'Only its author or a moderator may edit this post.')
    // Its author no longer sees a hidden post's text: an edit would replace what they cannot read.
    if (post.hidden && !moderator) throw forbidden('edit_hidden', 'This post is hidden: only a moderator may edit it.')
    if (thread.locked && !isStaff(editor)) throw forbidden('thread_locked', 'This thread is locked: only staff can post in it.')
    // Read-only crisis mode holds for edits too: nothing a customer changes is pushed to every reader.
    if (!isStaff(editor)) checkCrisisMode(thread)
    if (post.body === body) return post
    if (input.editedAt !== undefined && input.editedAt !== post.editedAt) {
      throw conflict('edited_meanwhile', 'Someone changed this post while you were editing it: read it as it is now, then save again.')
    }
    if (!isStaff(editor)) await checkPostingLimits(trx, deps.postingLimits, editor, deps.now())
    await trx.insertInto('post_revisions')
      .values({ post_id: postId, body: post.body ?? '', html: post.html ?? '', edited_by: editor.id, created_at: deps.now() })
      .execute()
    await trx.updateTable('posts').set({ body, html: renderMarkdown(body), edited_at: deps.now() }).where('id', '=', postId).execute()
    if (post.author.id !== editor.id) {
      await recordAudit(trx, editor, { action: 'post.edit', threadId: thread.id, postId, before: { body: post.body }, after: { body } })
    }
    const edited = await loadPost(trx, postId)
    emit(await appendEvent(trx, thread.id, 'post.updated', { post: edited }))
    return edited
  })
}

/** The hide reason of a comment hidden by its flags until a moderator reviews it; pages translate it. */
export const PENDING_REVIEW = 'pending review'

/**
 * Hides a post with a reason; it keeps its place, and nothing is deleted. A
 * post the readers' flags hid pending review takes the moderator's reason: the
 * hide is that review. A post already hidden with another reason keeps it, and
 * the moderator is told.
 */
export async function hidePost (deps: Deps, actor: Actor | null, postId: number, input: { reason: string }, idem?: IdempotencyKey): Promise<Post> {
  const moderator = requireModerator(actor)
  const reason = storable(input.reason).trim()
  if (reason.length < 1 || reason.length > REASON_MAX) throw badRequest('invalid_reason', `Give a reason of 1 to ${REASON_MAX} characters.`)
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, moderator.id, idem, 200, async () => {
    const { thread, post } = await lockPostThread(trx, postId)
    // Hidden by the flags, not by a moderator who gave that reason: nobody hid it.
    const pending = post.hidden && post.hiddenReason === PENDING_REVIEW &&
      (await trx.selectFrom('posts').select('hidden_by').where('id', '=', postId).executeTakeFirstOrThrow()).hidden_by === null
    if (post.hidden && !pending) {
      if (post.hiddenReason === reason) return post
      throw conflict('already_hidden', 'This post is already hidden, with another reason, which stands: restore it first to hide it with yours.')
    }
    await trx.updateTable('posts').set({ hidden_at: deps.now(), hidden_by: moderator.id, hidden_reason: reason }).where('id', '=', postId).execute()
    await closeFlags(trx, moderator, postId, 'hidden', deps.now())
    // The log says what the hide unpinned, as it does for the flags' hide.
    const unpinned = thread.pinned_post_id === postId
    await recordAudit(trx, moderator, {
      action: 'post.hide',
      threadId: thread.id,
      postId,
      before: { ...(pending ? { hidden: true, reason: PENDING_REVIEW } : { hidden: false }), ...(unpinned && { pinnedPostId: postId }) },
      after: { hidden: true, ...(unpinned && { pinnedPostId: null }) },
      reason
    })
    const hidden = await loadPost(trx, postId)
    emit(await appendEvent(trx, thread.id, 'post.hidden', { post: hidden }))
    await unpinHidden(trx, deps, unpinned ? thread.id : null, emit)
    return hidden
  }))
}

/** A hidden post cannot stay the current state. */
export async function unpinHidden (trx: Transaction<Database>, deps: Deps, threadId: number | null, emit: (event: ThreadEvent) => void): Promise<void> {
  if (threadId === null) return
  await trx.updateTable('threads').set({ pinned_post_id: null }).where('id', '=', threadId).execute()
  const unpinned = await closePin(trx, threadId, deps.now())
  const row = await trx.selectFrom('threads').selectAll().where('id', '=', threadId).executeTakeFirstOrThrow()
  emit(await appendEvent(trx, threadId, 'thread.updated', { thread: toThread(row), pinnedPost: null, unpinned }))
}

/** A moderator's decision on a post ends its open flags: they leave the queue. */
async function closeFlags (trx: Transaction<Database>, moderator: Actor, postId: number, resolution: 'hidden' | 'dismissed', now: Date): Promise<void> {
  await trx.updateTable('flags').set({ resolved_at: now, resolved_by: moderator.id, resolution })
    .where('post_id', '=', postId).where('resolved_at', 'is', null).execute()
}

export async function restorePost (deps: Deps, actor: Actor | null, postId: number, idem?: IdempotencyKey): Promise<Post> {
  const moderator = requireModerator(actor)
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, moderator.id, idem, 200, async () => {
    const { thread, post } = await lockPostThread(trx, postId)
    if (!post.hidden) return post
    await trx.updateTable('posts').set({ hidden_at: null, hidden_by: null, hidden_reason: null }).where('id', '=', postId).execute()
    // A moderator who restores it has judged its flags: one more flag must not hide it again at once.
    await closeFlags(trx, moderator, postId, 'dismissed', deps.now())
    await recordAudit(trx, moderator, { action: 'post.restore', threadId: thread.id, postId, before: { hidden: true, reason: post.hiddenReason }, after: { hidden: false } })
    const restored = await loadPost(trx, postId)
    emit(await appendEvent(trx, thread.id, 'post.restored', { post: restored }))
    return restored
  }))
}

export interface Revision { body: string, html: string, editedBy: number, createdAt: string }

/** The earlier texts of a post, oldest first; for moderators. */
export async function listRevisions (db: Kysely<Database>, actor: Actor | null, postId: number): Promise<Revision[]> {
  requireModerator(actor)
  const post = await db.selectFrom('posts').select('id').where('id', '=', postId).executeTakeFirst()
  if (post === undefined) throw notFound('post')
  const rows = await db.selectFrom('post_revisions').selectAll().where('post_id', '=', postId).orderBy('id').execute()
  return rows.map((row) => ({ body: row.body, html: row.html, editedBy: row.edited_by, createdAt: row.created_at.toISOString() }))
}
