import { type Kysely, type Transaction, sql } from 'kysely'
import type { Database, ThreadRow, ThreadStatus } from '../db/database.ts'
import { appendEvent } from '../live/events.ts'
import { type Actor, isModerator, requireModerator, requireStaff } from './actors.ts'
import { recordAudit } from './audit.ts'
import { type Deps, commitThenPublish } from './deps.ts'
import { badRequest, conflict, forbidden, notFound } from './errors.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { closePin, recordPin } from './pins.ts'
import { insertPost, loadPost, validateBody, validatePromise } from './posts.ts'
import { storable } from './text.ts'
import { ID_MAX, type Thread, iso } from './views.ts'

export const STATUSES: readonly ThreadStatus[] = ['investigating', 'identified', 'monitoring', 'resolved']
export const TITLE_MAX = 200
export const SLOW_MODE_MAX = 3600
/** A cadence is at most a day: a promise further away is no promise to readers. */
export const CADENCE_MAX = 1440

export function toThread (row: ThreadRow): Thread {
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    locked: row.locked,
    pinnedPostId: row.pinned_post_id,
    nextUpdateAt: iso(row.next_update_at),
    lastPostAt: iso(row.last_post_at),
    postCount: row.post_count,
    createdAt: row.created_at.toISOString(),
    slowModeSeconds: row.slow_mode_seconds,
    cadenceMinutes: row.cadence_minutes,
    crisisMode: row.crisis_mode,
    crisisReadOnly: row.crisis_read_only,
    lastSeq: row.last_seq
  }
}

export function validateStatus (status: string): ThreadStatus {
  if (!STATUSES.includes(status as ThreadStatus)) throw badRequest('invalid_status', `The status must be one of ${STATUSES.join(', ')}.`)
  return status as ThreadStatus
}

export function validateTitle (title: string): string {
  const trimmed = storable(title).trim()
  if (trimmed.length < 1 || trimmed.length > TITLE_MAX) throw badRequest('invalid_title', `The title must be 1 to ${TITLE_MAX} characters long.`)
  return trimmed
}

/** The incidents of one page of a list: the open ones, then a page of resolved ones. */
export interface IncidentPage {
  open: Thread[]
  resolved: Thread[]
  /** The cursor of the next page of resolved incidents, if there are more. */
  next: string | null
}

const activity = sql<Date>`coalesce(last_post_at, created_at)`

/**
 * Every open incident (unless `withOpen` is false), then resolved ones, the
 * latest activity first, a page at a time. A page's cursor is its last
 * incident's activity, to the microsecond, and id: the next page follows on
 * from that point even if that incident has had a post since, or reopened.
 * Both lists are read at one moment, so an incident resolved meanwhile is
 * not in both, nor in neither.
 */
export async function listIncidents (db: Kysely<Database>, page: { before?: string, limit: number, withOpen: boolean }): Promise<IncidentPage> {
  const cursor = page.before === undefined ? undefined : parseCursor(page.before)
  return await db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
    const open = page.withOpen
      ? await trx.selectFrom('threads').selectAll().where('status', '<>', 'resolved').orderBy(activity, 'desc').orderBy('id', 'desc').execute()
      : []
    let query = trx.selectFrom('threads').selectAll()
      .select(sql<string>`(extract(epoch from ${activity}) * 1000000)::bigint::text`.as('activity_us'))
      .where('status', '=', 'resolved')
    if (cursor !== undefined) {
      query = query.where(sql<boolean>`(${activity}, id) < (timestamptz 'epoch' + cast(${cursor.micros} as bigint) * interval '1 microsecond', ${cursor.id})`)
    }
    const rows = await query.orderBy(activity, 'desc').orderBy('id', 'desc').limit(page.limit + 1).execute()
    const shown = rows.slice(0, page.limit)
    const last = shown.at(-1)
    return {
      open: open.map(toThread),
      resolved: shown.map(({ activity_us: _us, ...row }) => toThread(row)),
      next: rows.length > page.limit && last !== undefined ? `${last.activity_us}-${last.id}` : null
    }
  })
}

function parseCursor (cursor: string): { micros: string, id: number } {
  const match = /^(\d{1,16})-(\d{1,10})$/.exec(cursor)
  const id = Number(match?.[2])
  if (match === null || id < 1 || id > ID_MAX) throw badRequest('invalid_cursor', 'This page of incidents does not exist: start again from the first one.')
  return { micros: match[1]!, id }
}

export async function getThread (db: Kysely<Database>, id: number): Promise<Thread> {
  const row = await db.selectFrom('threads').selectAll().where('id', '=', id).executeTakeFirst()
  if (row === undefined) throw notFound('thread')
  return toThread(row)
}

/** Locks the thread's row for the rest of the transaction: writes to one thread queue up here. */
export async function lockThread (trx: Transaction<Database>, id: number): Promise<ThreadRow> {
  const row = await trx.selectFrom('threads').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  if (row === undefined) throw notFound('thread')
  return row
}

async function reloadThread (trx: Transaction<Database>, id: number): Promise<Thread> {
  return toThread(await trx.selectFrom('threads').selectAll().where('id', '=', id).executeTakeFirstOrThrow())
}

export interface NewThread { title: string, body: string, status?: string, nextUpdateAt?: string | null }

/** Opens an incident; its body becomes the first official update. */
export async function createThread (deps: Deps, actor: Actor | null, input: NewThread, idem?: IdempotencyKey): Promise<Thread> {
  const author = requireStaff(actor)
  const title = validateTitle(input.title)
  const body = validateBody(input.body)
  const status = validateStatus(input.status ?? 'investigating')
  // With a key, the promise is checked once the key is claimed: a retry sent
  // after the promised time has passed gets the first answer, not a 400.
  const promise = () => validatePromise(input.nextUpdateAt, deps.now())
  const checked = idem === undefined ? promise() : undefined
  return await commitThenPublish(deps, async (trx, emit) => await answerOnce(trx, author.id, idem, 201, async () => {
    const nextUpdateAt = checked !== undefined ? checked : promise()
    const now = deps.now()
    const created = await trx.insertInto('threads')
      .values({ title, status, created_by: author.id, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow()
    const { post } = await insertPost(trx, deps, author, created, { body, kind: 'update', status, replyTo: null, nextUpdateAt })
    emit(await appendEvent(trx, created.id, 'post.created', { post }))
    return await reloadThread(trx, created.id)
  }))
}

export interface ThreadPatch { status?: string, locked?: boolean, slowModeSeconds?: number, title?: string, crisisMode?: boolean, crisisReadOnly?: boolean, cadenceMinutes?: number | null }

/** Technicians set the status; the rest is for moderators and admins. */
export async function updateThread (deps: Deps, actor: Actor | null, threadId: number, patch: ThreadPatch): Promise<Thread> {
  const staff = requireStaff(actor)
  const moderatorFields = (['locked', 'slowModeSeconds', 'title', 'crisisMode', 'crisisReadOnly'] as const).filter((field) => patch[field] !== undefined)
  if (moderatorFields.length > 0 && !isModerator(staff)) {
    throw forbidden('moderator_only', 'Only moderators and admins may lock a thread, rename it or set slow mode.')
  }
  const status = patch.status === undefined ? undefined : validateStatus(patch.status)
  const title = patch.title === undefined ? undefined : validateTitle(patch.title)
  if (patch.cadenceMinutes != null && (!Number.isInteger(patch.cadenceMinutes) || patch.cadenceMinutes < 1 || patch.cadenceMinutes > CADENCE_MAX)) {
    throw badRequest('invalid_cadence', `The cadence must be 1 to ${CADENCE_MAX} minutes, or none.`)
  }
  if (patch.slowModeSeconds !== undefined && (!Number.isInteger(patch.slowModeSeconds) || patch.slowModeSeconds < 0 || patch.slowModeSeconds > SLOW_MODE_MAX)) {
    throw badRequest('invalid_slow_mode', `Slow mode must be 0 to ${SLOW_MODE_MAX} seconds.`)
  }
  return await commitThenPublish(deps, async (trx, emit) => {
    const before = toThread(await lockThread(trx, threadId))
    // Read-only is a part of crisis mode: asked for alone, it would be kept and do nothing.
    if (patch.crisisReadOnly === true && !(patch.crisisMode ?? before.crisisMode)) {
      throw badRequest('read_only_without_crisis', 'Read-only is part of crisis mode: turn crisis mode on with it.')
    }
    const changes = {
      ...(status !== undefined && { status }),
      ...(status === 'resolved' && { next_update_at: null }),
      ...(title !== undefined && { title }),
      ...(patch.locked !== undefined && { locked: patch.locked }),
      ...(patch.slowModeSeconds !== undefined && { slow_mode_seconds: patch.slowModeSeconds }),
      ...(patch.cadenceMinutes !== undefined && { cadence_minutes: patch.cadenceMinutes }),
      ...(patch.crisisMode !== undefined && { crisis_mode: patch.crisisMode }),
      // Read-only lasts no longer than the crisis mode it belongs to.
      ...(patch.crisisMode === false && { crisis_read_only: false }),
      ...(patch.crisisReadOnly !== undefined && patch.crisisMode !== false && { crisis_read_only: patch.crisisReadOnly })
    }
    if (Object.keys(changes).length === 0) return before
    // What was applied: the status and title as checked, not as sent.
    const applied = { ...patch, ...(status !== undefined && { status }), ...(title !== undefined && { title }) }
    // A patch that changes nothing (a lock sent twice, a form saved as it was) is no event, and no line of the audit.
    const nothingNew = JSON.stringify(pick(before, patch)) === JSON.stringify(pick(applied, patch)) && !(status === 'resolved' && before.nextUpdateAt !== null)
    if (nothingNew) return before
    await trx.updateTable('threads').set(changes).where('id', '=', threadId).execute()
    await recordAudit(trx, staff, { action: 'thread.update', threadId, before: pick(before, patch), after: pick(applied, patch) })
    emit(await appendEvent(trx, threadId, 'thread.updated', { thread: await reloadThread(trx, threadId) }))
    return await reloadThread(trx, threadId)
  })
}

const PATCH_FIELDS = ['status', 'locked', 'slowModeSeconds', 'title', 'crisisMode', 'crisisReadOnly', 'cadenceMinutes'] as const

/** The fields the patch sets, as `source` has them: a caller's other keys are not the thread's, and stay out of the log. */
function pick (source: Thread | ThreadPatch, patch: ThreadPatch): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of PATCH_FIELDS) {
    if (patch[key] !== undefined) out[key] = source[key]
  }
  return out
}

/** Makes one post the thread's current state, shown at the top of the page. */
export async function pinPost (deps: Deps, actor: Actor | null, threadId: number, postId: number): Promise<Thread> {
  const moderator = requireModerator(actor)
  return await commitThenPublish(deps, async (trx, emit) => {
    const before = await lockThread(trx, threadId)
    const post = await trx.selectFrom('posts').select(['id', 'thread_id', 'kind', 'hidden_at']).where('id', '=', postId).executeTakeFirst()
    if (post === undefined || post.thread_id !== threadId) throw badRequest('post_not_in_thread', 'That post is not in this thread.')
    if (post.hidden_at !== null) throw badRequest('post_hidden', 'A hidden post cannot be pinned.')
    // The current state is the staff's word: a comment, a customer's above all, is not it.
    if (post.kind === 'comment') throw badRequest('comment_not_pinnable', 'Only an official update can be the current state: post one, then pin it.')
    // Pinned already (a double click, two moderators at once): nothing changes, nothing is recorded twice.
    if (before.pinned_post_id === postId) return toThread(before)
    await trx.updateTable('threads').set({ pinned_post_id: postId }).where('id', '=', threadId).execute()
    const unpinned = await recordPin(trx, moderator, threadId, postId, deps.now())
    await recordAudit(trx, moderator, { action: 'thread.pin', threadId, postId, before: { pinnedPostId: before.pinned_post_id }, after: { pinnedPostId: postId } })
    emit(await appendEvent(trx, threadId, 'thread.updated', { thread: await reloadThread(trx, threadId), pinnedPost: await loadPost(trx, postId), unpinned }))
    return await reloadThread(trx, threadId)
  })
}

/**
 * Unpins the current state. With `postId`, only that post: a moderator whose
 * page is older than a colleague's new pin does not take the new one down.
 */
export async function unpinPost (deps: Deps, actor: Actor | null, threadId: number, options: { postId?: number } = {}): Promise<Thread> {
  const moderator = requireModerator(actor)
  return await commitThenPublish(deps, async (trx, emit) => {
    const before = await lockThread(trx, threadId)
    if (options.postId !== undefined && before.pinned_post_id !== null && before.pinned_post_id !== options.postId) {
      throw conflict('pin_changed', 'Another post was pinned meanwhile: it is the current state now. Unpin it from the page as it is now if you mean to.')
    }
    if (before.pinned_post_id === null) return toThread(before)
    await trx.updateTable('threads').set({ pinned_post_id: null }).where('id', '=', threadId).execute()
    const unpinned = await closePin(trx, threadId, deps.now())
    await recordAudit(trx, moderator, { action: 'thread.unpin', threadId, before: { pinnedPostId: before.pinned_post_id }, after: { pinnedPostId: null } })
    emit(await appendEvent(trx, threadId, 'thread.updated', { thread: await reloadThread(trx, threadId), pinnedPost: null, unpinned }))
    return await reloadThread(trx, threadId)
  })
}
