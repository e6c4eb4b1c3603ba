import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, badRequest } from '../../../domain/errors.ts'
import { dismissFlags, flagPost, hideFlagged, listFlagQueue } from '../../../domain/flags.ts'
import { AUDIT_PAGE, auditActors, listAudit, postAndPinSummary, setAnswer } from '../../../domain/moderation.ts'
import { getPost, listRevisions } from '../../../domain/posts.ts'
import { getThread, updateThread } from '../../../domain/threads.ts'
import { type Locale, hasMessage, translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { type Form, field, formIdempotency, isFormError, messageOf, newFormKey, optionalId, parseId, unchanged } from './shared.ts'
import { moderate } from './thread-page.ts'

interface IdParam { id: string }

/** One field of an audit row's before or after, as a moderator reads it: its name, and its value in words. */
interface AuditField { label: string, text?: string, time?: string, post?: number, long?: boolean }

// Fields whose values are words of ours (a role, a shift, a status), by their message key's prefix.
const WORDS: Record<string, string> = { role: 'role.', shift: 'shift.badge.', status: 'status.' }
/** A long text (a post's body) is shown cut after this many characters; its post has it whole. */
const TEXT_SHOWN = 200

/**
 * An audit row's before or after, field by field, in the reader's language:
 * "Locked: yes", "Role: Technician", not {"locked":true}. A field this page
 * does not know is shown as it was recorded.
 */
function auditFields (locale: Locale, value: unknown): AuditField[] {
  if (value === null || typeof value !== 'object') return value === null || value === undefined ? [] : [{ label: '', text: JSON.stringify(value) }]
  return Object.entries(value as Record<string, unknown>).map(([key, raw]) => {
    const labelKey = `audit.field.${key}`
    const label = hasMessage(labelKey) ? translate(locale, labelKey) : key
    if (raw === null || raw === undefined) return { label, text: '—' }
    if (typeof raw === 'boolean') return { label, text: translate(locale, raw ? 'audit.yes' : 'audit.no') }
    if ((key === 'pinnedPostId' || key === 'answeredBy') && typeof raw === 'number') return { label, post: raw, text: translate(locale, 'moderation.audit.postN', { id: raw }) }
    if (key === 'nextUpdateAt' && typeof raw === 'string') return { label, time: raw }
    if (key === 'slowModeSeconds' && typeof raw === 'number') return { label, text: translate(locale, 'duration.seconds', { seconds: raw }) }
    if (key === 'cadenceMinutes' && typeof raw === 'number') return { label, text: translate(locale, 'duration.minutes', { minutes: raw }) }
    if ((key === 'day' || key === 'evening' || key === 'night') && typeof raw === 'number') return { label, text: `${String(raw).padStart(2, '0')}:00` }
    const words = WORDS[key]
    if (words !== undefined && typeof raw === 'string' && hasMessage(`${words}${raw}`)) return { label, text: translate(locale, `${words}${raw}`) }
    if (typeof raw === 'string') return raw.length > TEXT_SHOWN ? { label, text: `${raw.slice(0, TEXT_SHOWN)}…`, long: true } : { label, text: raw }
    return { label, text: typeof raw === 'number' ? String(raw) : JSON.stringify(raw) }
  })
}

/** The moderators' pages and the forms of the moderation tools on the thread page. */
const moderationPages: FastifyPluginAsync = async (fastify) => {
  const { db } = fastify

  const signInFirst = (request: FastifyRequest, reply: FastifyReply) => reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303)

  fastify.post<{ Params: IdParam, Body: Form }>('/t/:id/summary', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const body = field(request.body, 'body')
    // A refused summary comes back in its form, as typed.
    return await moderate(fastify, request, reply, threadId,
      () => postAndPinSummary(request.deps, request.actor, threadId, { body }, formIdempotency(request, request.body)), '#current-state', { summary: body })
  })

  fastify.post<{ Params: IdParam, Body: Form }>('/t/:id/crisis', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const form = request.body
    // An unticked box is not sent at all: absent means off.
    const crisisMode = field(form, 'crisisMode') === 'on'
    const readOnlyTicked = field(form, 'crisisReadOnly') === 'on'
    // Read-only ticked alone, crisis mode off and left off, is asked for as
    // such: refused, and said why, not dropped unseen. (Crisis mode turned
    // off takes read-only with it, whatever its box says.)
    const crisisReadOnly = crisisMode ? readOnlyTicked : readOnlyTicked && unchanged(form, 'crisisMode', 'off')
    const onOff = (on: boolean) => on ? 'on' : 'off'
    return await moderate(fastify, request, reply, threadId, () => updateThread(request.deps, request.actor, threadId, {
      ...(!unchanged(form, 'crisisMode', onOff(crisisMode)) && { crisisMode }),
      ...(!unchanged(form, 'crisisReadOnly', onOff(crisisReadOnly)) && { crisisReadOnly })
    }), '#mod-tools')
  })

  fastify.post<{ Params: IdParam, Body: Form }>('/posts/:id/flag', async (request, reply) => {
    const post = await getPost(db, parseId(request.params.id, 'post'), request.actor)
    return await moderate(fastify, request, reply, post.threadId, async () => {
      try {
        await flagPost(request.deps, request.actor, post.id, { reason: field(request.body, 'reason') })
      } catch (err) {
        // Flagged before (a second click, another tab): the same thanks, not an error.
        if (!(err instanceof AppError && err.code === 'already_flagged')) throw err
      }
    }, `#p-${post.id}`, {}, `flagged=${post.id}`)
  })

  fastify.post<{ Params: IdParam, Body: Form }>('/posts/:id/answer', async (request, reply) => {
    const post = await getPost(db, parseId(request.params.id, 'post'), request.actor)
    // An empty field unlinks the answer; anything but an update's number is refused, and unlinks nothing.
    const given = field(request.body, 'updateId').trim()
    const updateId = given === '' ? null : optionalId(given)
    return await moderate(fastify, request, reply, post.threadId, async () => {
      if (updateId === undefined) throw badRequest('invalid_answer', 'The answer must be a visible update of the same thread.')
      return await setAnswer(request.deps, request.actor, post.id, updateId)
    }, `#p-${post.id}`)
  })

  fastify.get<{ Params: IdParam }>('/posts/:id/history', async (request, reply) => {
    const postId = parseId(request.params.id, 'post')
    if (request.actor === null) return signInFirst(request, reply)
    const revisions = await listRevisions(db, request.actor, postId)
    const post = await getPost(db, postId, request.actor)
    const thread = await getThread(db, post.threadId)
    const editors = new Map((await db.selectFrom('users').select(['id', 'name'])
      .where('id', 'in', [0, ...revisions.map((r) => r.editedBy)]).execute()).map((u) => [u.id, u.name]))
    return reply.page('post-history', {
      title: translate(request.locale, 'moderation.history.title', { id: post.id }),
      post,
      thread,
      threadHref: `/posts/${post.id}`,
      revisions: revisions.reverse().map((r) => ({ ...r, editorName: editors.get(r.editedBy) ?? '' }))
    })
  })

  const showFlags = async (request: FastifyRequest, reply: FastifyReply, error?: string, notice?: string) => {
    const queue = await listFlagQueue(db, request.actor)
    return reply.page('mod-flags', {
      title: translate(request.locale, 'moderation.flags.title'),
      here: '/mod/flags',
      csrf: csrfToken(request, reply),
      queue: queue.map((item) => ({ ...item, threadHref: `/posts/${item.post.id}`, hideKey: newFormKey(), dismissKey: newFormKey() })),
      error,
      notice
    })
  }

  fastify.get('/mod/flags', async (request, reply) => {
    if (request.actor === null) return signInFirst(request, reply)
    return await showFlags(request, reply)
  })

  for (const [action, run] of [['hide', hideFlagged], ['dismiss', dismissFlags]] as const) {
    fastify.post<{ Params: IdParam, Body: Form }>(`/mod/flags/:id/${action}`, async (request, reply) => {
      const postId = parseId(request.params.id, 'post')
      try {
        // A double click is answered as the first click was, not "no open flag".
        await run(request.deps, request.actor, postId, formIdempotency(request, request.body))
        return reply.redirect('/mod/flags', 303)
      } catch (err) {
        // A colleague handled them first, from the same queue: nothing is wrong, the queue as it is now says what is left.
        if (err instanceof AppError && err.messageKey === 'errors.not_found.flag' && request.actor !== null) {
          return await showFlags(request, reply, undefined, translate(request.locale, 'moderation.flags.handledMeanwhile'))
        }
        if (!isFormError(err) || request.actor === null) throw err
        return await showFlags(request, reply.code(err.statusCode), messageOf(request.locale, err))
      }
    })
  }

  fastify.get<{ Querystring: { threadId?: string, actorId?: string, before?: string } }>('/mod/audit', async (request, reply) => {
    if (request.actor === null) return signInFirst(request, reply)
    const threadId = optionalId(request.query.threadId)
    const actorId = optionalId(request.query.actorId)
    const before = optionalId(request.query.before)
    const rows = await listAudit(db, request.actor, { threadId, actorId, before })
    const actors = await auditActors(db, request.actor, actorId)
    // A full page may have more behind it: the same filter, before its oldest row.
    const older = new URLSearchParams({
      ...(threadId !== undefined && { threadId: String(threadId) }),
      ...(actorId !== undefined && { actorId: String(actorId) }),
      before: String(rows.at(-1)?.id ?? 0)
    })
    return reply.page('mod-audit', {
      title: translate(request.locale, 'moderation.audit.title'),
      filter: { threadId, actorId },
      // Two of the staff with one name are told apart by their number.
      actors: actors.map((one) => ({ ...one, twin: actors.some((other) => other.id !== one.id && other.name === one.name) })),
      // Filtered by someone who is no longer (or never was) a user: the choice says so, not "Anyone".
      unknownActor: actorId !== undefined && !actors.some((actor) => actor.id === actorId),
      older: rows.length === AUDIT_PAGE ? `/mod/audit?${older}` : null,
      rows: rows.map((row) => ({ ...row, beforeFields: auditFields(request.locale, row.before), afterFields: auditFields(request.locale, row.after) }))
    })
  })
}

export default moderationPages
