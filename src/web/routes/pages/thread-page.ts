import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type Actor, isModerator, isStaff } from '../../../domain/actors.ts'
import { AppError, badRequest } from '../../../domain/errors.ts'
import { flaggedBy } from '../../../domain/flags.ts'
import { followState } from '../../../domain/subscriptions.ts'
import { KINDS } from '../../../domain/posts.ts'
import { minutesSinceClockTime, nextClockTime, shiftOnDuty } from '../../../domain/shifts.ts'
import { STATUSES } from '../../../domain/threads.ts'
import type { Post, Thread } from '../../../domain/views.ts'
import { type Locale, isolate, translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { type Fragment, POSTS_SLOT, type Viewer, joinFragments, pageBytes } from '../../post-fragments.ts'
import { dutyOnPage } from './duty-context.ts'
import { type Form, field, isFormError, messageOf, newFormKey, optionalId, pageOfOurs, promiseOf, threadPath } from './shared.ts'
import { type ThreadView, forViewer, loadThreadView } from './thread-view.ts'

export interface ThreadQuery { view?: string, after?: string, before?: string, replyTo?: string, flagged?: string, unpinned?: string }

export interface ThreadPageExtras {
  /** A failed update or comment: shown next to its form, which keeps what was typed. */
  composeError?: string
  /** Whether that refusal was of the next update's promise, not of the message. */
  composePromise?: boolean
  form?: Form
  /** A failed moderation action: shown at the top. */
  actionError?: string
  /** The post a failed moderation action was about: the message at the top leads to it. */
  actionPost?: number
  /** The text of a summary that was refused, for its form. */
  summary?: string
  /** The thread settings as sent, when refused: the panel opens with them. */
  settings?: { title: string, locked: boolean, slowModeSeconds: string }
  /** The cadence as sent, when refused: its panel opens with it. */
  cadence?: string
  /** The e-mail about following could not go: said in the box. */
  followError?: string
}

/** The next-update choices of the update form, in minutes from now. */
export const NEXT_UPDATE_CHOICES = [15, 30, 60]

/** The cadence a post that promises nothing keeps: none once the incident is resolved. */
export const cadenceOf = (thread: Thread): number | null => thread.status !== 'resolved' ? thread.cadenceMinutes : null

/**
 * A form's choices of promise: in 15, 30 or 60 min, at a time of the clock,
 * or none. On a thread with a cadence, "none" keeps the cadence, says so, and
 * is the default. A form shown again keeps what was chosen, the time typed too;
 * refused for its promise (`wrong`), its time box is marked, described by the
 * refusal, and takes the focus unless a field above it was wrong too.
 */
export function promiseChoices (cadence: number | null, form: Form, fallback: string, wrong?: { errorId: string, focus: boolean }) {
  const time = field(form, 'nextAt').trim()
  const next = time !== '' ? 'at' : field(form, 'next') || (cadence !== null ? 'none' : fallback)
  return {
    nextChoices: NEXT_UPDATE_CHOICES.map((minutes) => ({ minutes, checked: String(minutes) === next })),
    at: { checked: next === 'at', time },
    noNextUpdate: next === 'none',
    cadence,
    wrong
  }
}

const CLOCK_TIME = /^([01]?\d|2[0-3])[:h.]([0-5]\d)$/
/** A time of the clock passed less than this long ago (by the clock) is refused; one passed longer ago is for tomorrow. */
const JUST_PASSED_MINUTES = 2 * 60

/**
 * The promise a form asks for: minutes from now, the next time the clock
 * shows the time typed ("by 07:30", when the day shift is in; refused when
 * it passed less than two hours ago), or none;
 * anything else is refused. A time typed is the choice made, whichever button
 * was left ticked. The clock is the one the page showed its times in: the
 * device's, which the page's script names, or else the organisation's.
 */
export function nextUpdateFrom (form: Form, now: Date, timeZone: string): string | null {
  const choice = field(form, 'next')
  const time = field(form, 'nextAt').trim()
  if (time !== '' || choice === 'at') {
    const clock = CLOCK_TIME.exec(time)
    if (clock === null) throw new AppError(400, 'invalid_next_update', 'Give the time of the next update as HH:MM, e.g. 14:15.', undefined, 'errors.invalid_next_update.time')
    const zone = zoneOr(field(form, 'nextAtZone'), timeZone)
    const [hour, minute] = [Number(clock[1]), Number(clock[2])]
    // A time passed a moment ago is a slip (the form was begun earlier), not
    // a promise for the same time tomorrow: readers would be told to wait a day.
    if (minutesSinceClockTime(now, zone, hour, minute) < JUST_PASSED_MINUTES) {
      throw new AppError(400, 'invalid_next_update', 'That time has just passed: give a time still to come.', undefined, 'errors.invalid_next_update.passed')
    }
    return nextClockTime(now, zone, hour, minute).toISOString()
  }
  if (choice === '' || choice === 'none') return null
  if (!/^\d{1,5}$/.test(choice)) throw badRequest('invalid_next_update', 'The next update must be promised for a time within the coming week.')
  return new Date(now.getTime() + Number(choice) * 60_000).toISOString()
}

/** `zone` when it is a time zone's name (`Europe/Paris`), else `fallback`. */
function zoneOr (zone: string, fallback: string): string {
  if (zone === '' || zone.length > 64) return fallback
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return fallback
  }
}
export const DEFAULT_NEXT_UPDATE = '30'

export function viewerOf (actor: Actor | null, thread: Thread): Viewer | null {
  if (actor === null) return null
  // Mirrors the domain's rules (a locked thread is for staff only), to show
  // only the forms that would work; the domain still decides every post.
  const closed = thread.locked || (thread.crisisMode && thread.crisisReadOnly)
  return { id: actor.id, staff: isStaff(actor), moderator: isModerator(actor), canComment: !closed || isStaff(actor) }
}

/** Whether to offer the edit link: its author or a moderator, where the viewer may still write. */
export function mayEdit (viewer: Viewer | null, post: Post): boolean {
  return viewer !== null && viewer.canComment && (viewer.moderator || (post.author.id === viewer.id && !post.hidden))
}

/** Renders a thread's page: for GET, and again after a form on it failed. */
export async function renderThread (
  fastify: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  threadId: number,
  query: ThreadQuery,
  extras: ThreadPageExtras = {}
): Promise<FastifyReply> {
  return reply.type('text/html; charset=utf-8').send(await threadPageHtml(fastify, request, reply, threadId, query, extras))
}

/** A thread's page as bytes, for the page cache (which decides who gets it from memory). */
export async function threadPageHtml (
  fastify: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  threadId: number,
  query: ThreadQuery,
  extras: ThreadPageExtras = {}
): Promise<Buffer> {
  const { context, posts } = await threadPageContext(fastify, request, reply, threadId, query, extras)
  return pageBytes(reply.pageHtml('thread', context), posts, context.csrf)
}

async function threadPageContext (
  fastify: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  threadId: number,
  query: ThreadQuery,
  extras: ThreadPageExtras = {}
): Promise<{ context: Record<string, unknown> & { csrf: string | undefined }, posts: Fragment }> {
  const { db, deps } = fastify
  const locale = request.locale
  const now = deps.now()
  const official = query.view === 'official'
  // `after=0`: from the thread's first post.
  const after = query.after === '0' ? 0 : optionalId(query.after)
  const before = after === undefined ? optionalId(query.before) : undefined
  // The latest posts are what nearly everyone reads: read from the database once per event.
  const stored = after === undefined && before === undefined
    ? await fastify.pageCache.threadView(threadId, official)
    : await fastify.pageCache.read((db) => loadThreadView(db, threadId, { official, after, before }))
  const view = forViewer(stored, request.actor)
  const { thread, posts, pinned } = view
  const viewer = viewerOf(request.actor, thread)
  const path = threadPath(thread)
  const viewQuery = official ? '?view=official' : ''
  const pageQuery = official ? '?view=official&' : '?'
  const firstShown = posts.at(0)
  const lastShown = posts.at(-1)
  const csrf = viewer === null ? undefined : csrfToken(request, reply)
  // The comments of others this viewer flagged already: no form to flag them again.
  const flagged = viewer === null
    ? new Set<number>()
    : await flaggedBy(db, viewer.id, posts.filter((post) => post.kind === 'comment' && post.author.id !== viewer.id && !post.hidden).map((post) => post.id))
  const postsBytes = postsOf(fastify, stored, view, viewer, locale, flagged)

  const form = extras.form ?? {}
  const promiseRefused = extras.composePromise === true
  const replyTo = optionalId(field(form, 'replyTo')) ?? optionalId(query.replyTo)
  // A reply answers someone: a comment, promising nothing, unless its writer chooses otherwise.
  const kind = field(form, 'kind') || (replyTo === undefined ? 'update' : 'comment')
  const status = field(form, 'status')

  // The stretch of the thread shown, and the comment replied to: what the language links and signing in keep.
  const place = new URLSearchParams({
    ...(official && { view: 'official' }),
    ...(after !== undefined && { after: String(after) }),
    ...(before !== undefined && { before: String(before) }),
    ...(replyTo !== undefined && { replyTo: String(replyTo) })
  }).toString()
  const here = place === '' ? path : `${path}?${place}`

  const context = {
    title: thread.title,
    here,
    canonical: `${fastify.config.publicUrl}${path}`,
    threadFeed: { href: `/t/${thread.id}/feed.atom?lang=${locale}`, title: translate(locale, 'feed.thread.title', { title: isolate(thread.title) }) },
    thread,
    liveScript: true,
    now: now.toISOString(),
    promise: promiseOf(thread.nextUpdateAt, now),
    onDuty: shiftOnDuty(now, deps.timeZone, deps.shiftHours),
    duty: dutyOnPage(await fastify.pageCache.duty(), request.actor, deps, view.handoverLeads),
    pinned,
    pinHistory: view.pinHistory,
    // Rendered from escaped templates, post by post, and put in as bytes with this page's token in their forms.
    postsHtml: POSTS_SLOT,
    hasPosts: posts.length > 0,
    official,
    links: {
      all: path,
      official: `${path}?view=official`,
      timeline: `/t/${thread.id}/timeline`,
      feed: `/t/${thread.id}/feed.atom?lang=${locale}`,
      signIn: `/login?next=${encodeURIComponent(here)}`,
      earlier: view.earlier && firstShown !== undefined ? `${path}${pageQuery}before=${firstShown.id}` : null,
      first: view.earlier ? `${path}${pageQuery}after=0` : null,
      later: view.later && lastShown !== undefined ? `${path}${pageQuery}after=${lastShown.id}` : null,
      // At the end of the latest posts, where the news is, not at the top of 200 of them.
      latest: after === undefined && before === undefined ? null : `${path}${viewQuery}#latest`
    },
    // A page that reaches the thread's last post grows with the new ones, live.
    complete: !view.later,
    viewer,
    csrf,
    formKey: newFormKey(),
    summaryFormKey: newFormKey(),
    compose: {
      body: field(form, 'body'),
      replyTo,
      kinds: KINDS.map((value) => ({ value, selected: value === kind })),
      statuses: STATUSES.map((value) => ({ value, selected: value === status })),
      // A resolved incident promises nothing unless reopened: its form does not offer "in 30 min" as a given.
      promise: promiseChoices(cadenceOf(thread), form, replyTo === undefined && thread.status !== 'resolved' ? DEFAULT_NEXT_UPDATE : 'none',
        promiseRefused ? { errorId: 'compose-error', focus: true } : undefined),
      // A resolved incident's form promises nothing; with its script, reopening it
      // (another status chosen) ticks the usual promise, unless one was chosen or a cadence will make it.
      reopenPromise: thread.status === 'resolved' && thread.cadenceMinutes === null ? DEFAULT_NEXT_UPDATE : undefined,
      // Refused for what it says, or for no field in particular: the message is marked.
      bodyWrong: extras.composeError !== undefined && !promiseRefused,
      // The Reply link leads here to write: the message field takes the focus (the time box, when it was refused for it).
      focus: !promiseRefused && (extras.composeError !== undefined || replyTo !== undefined)
    },
    summaryBody: extras.summary ?? '',
    composeError: extras.composeError,
    // A refused summary or setting is said in its own panel, opened on what was typed; anything else at the top.
    summaryError: extras.summary === undefined ? undefined : extras.actionError,
    settingsForm: extras.settings,
    settingsError: extras.settings === undefined ? undefined : extras.actionError,
    cadenceForm: extras.cadence === undefined ? undefined : { value: extras.cadence, error: extras.actionError },
    actionError: extras.summary === undefined && extras.settings === undefined && extras.cadence === undefined ? extras.actionError : undefined,
    actionPost: extras.actionPost,
    // Back from flagging a comment: said where it stays in view while the page scrolls to the comment.
    flagged: await flaggedNow(db, viewer, optionalId(query.flagged), flagged),
    unpinned: unpinnedByHiding(viewer, view, optionalId(query.unpinned)),
    follow: await followBox(fastify, request.actor, thread.id, extras.followError)
  }
  return { context, posts: postsBytes }
}

/**
 * The post `?unpinned=` names, to a moderator back from hiding it, when it
 * was the last state pinned, is hidden still, and nothing is pinned in its
 * place: readers have no current state until someone pins one.
 */
function unpinnedByHiding (viewer: Viewer | null, view: ThreadView, postId: number | undefined): number | undefined {
  if (viewer?.moderator !== true || postId === undefined || view.thread.pinnedPostId !== null) return undefined
  const last = view.pinHistory[0]?.post
  return last !== undefined && last.id === postId && last.hidden ? postId : undefined
}

/** The signed-in reader's e-mail box: whether they follow the thread, and whether their address is confirmed. */
async function followBox (fastify: FastifyInstance, actor: Actor | null, threadId: number, error: string | undefined) {
  // Without a mail server, nothing would go: no box.
  if (actor === null || fastify.mailer === null) return null
  return { ...await followState(fastify.deps, actor.id, threadId), email: actor.email, error }
}

/**
 * The comment `?flagged=` names, when this viewer did flag it: an address passed
 * on thanks nobody else. Asked of the database only when it is not among the
 * comments on the page they flagged (one their flag hid, or one further back).
 */
async function flaggedNow (db: FastifyInstance['db'], viewer: Viewer | null, postId: number | undefined, onPage: ReadonlySet<number>): Promise<number | undefined> {
  if (viewer === null || postId === undefined) return undefined
  return onPage.has(postId) || (await flaggedBy(db, viewer.id, [postId])).has(postId) ? postId : undefined
}

// The posts of a stored view as each kind of viewer sees them, joined once: most
// readers of a page see the same list. A viewer with posts of their own on it
// (edit links, no flag form), or who flagged some, gets theirs joined for them.
const joinedPosts = new WeakMap<ThreadView, Map<string, Fragment>>()

function postsOf (fastify: FastifyInstance, stored: ThreadView, view: ThreadView, viewer: Viewer | null, locale: Locale, flagged: ReadonlySet<number>): Fragment {
  const own = viewer !== null && (flagged.size > 0 || view.posts.some((post) => post.author.id === viewer.id))
  const key = viewer === null ? locale : `${locale}|${+viewer.staff}${+viewer.moderator}${+viewer.canComment}`
  let joined = own ? undefined : joinedPosts.get(stored)?.get(key)
  if (joined === undefined) {
    joined = joinFragments(view.posts.map((post) => fastify.postFragments({
      post,
      locale,
      viewer,
      canEdit: mayEdit(viewer, post),
      isPinned: post.id === view.thread.pinnedPostId,
      handoverLead: view.handoverLeads[post.id],
      flagged: flagged.has(post.id)
    })))
    if (!own) {
      let forView = joinedPosts.get(stored)
      if (forView === undefined) joinedPosts.set(stored, forView = new Map())
      forView.set(key, joined)
    }
  }
  return joined
}

/**
 * The stretch of the thread a form was sent from, by the address of its page
 * (which browsers send along to their own site): a moderator working on an
 * earlier stretch, or on the official updates, goes back there.
 */
function pageSentFrom (request: FastifyRequest, threadId: number): { path: string, query: ThreadQuery } {
  const fallback = { path: `/t/${threadId}`, query: {} }
  const url = pageOfOurs(request)
  if (url === null || !new RegExp(`^/t/${threadId}(?:/[^/]*)?$`).test(url.pathname)) return fallback
  const query: ThreadQuery = {}
  const kept = new URLSearchParams()
  for (const key of ['view', 'before', 'after'] as const) {
    const value = url.searchParams.get(key)
    if (value === null) continue
    query[key] = value
    kept.set(key, value)
  }
  return { path: kept.size === 0 ? fallback.path : `${fallback.path}?${kept}`, query }
}

/** Runs a moderation action, then back to the thread's page it came from; on a refusal that page is shown again with the reason on top. */
export async function moderate (
  fastify: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  threadId: number,
  action: () => Promise<unknown>,
  anchor = '',
  extras: Omit<ThreadPageExtras, 'actionError'> = {},
  /** A query parameter saying on the page what was done, e.g. `flagged=7`. */
  done?: string
): Promise<FastifyReply> {
  const from = pageSentFrom(request, threadId)
  try {
    await action()
    const said = done === undefined ? '' : `${from.path.includes('?') ? '&' : '?'}${done}`
    return reply.redirect(`${from.path}${said}${anchor}`, 303)
  } catch (err) {
    if (!isFormError(err)) throw err
    const post = /^#p-(\d+)$/.exec(anchor)?.[1]
    return await renderThread(fastify, request, reply.code(err.statusCode), threadId, from.query, {
      ...extras,
      actionError: messageOf(request.locale, err),
      ...(post !== undefined && { actionPost: Number(post) })
    })
  }
}
