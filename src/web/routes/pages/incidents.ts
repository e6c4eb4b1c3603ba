import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isStaff, requireStaff } from '../../../domain/actors.ts'
import { AppError } from '../../../domain/errors.ts'
import { validateBody } from '../../../domain/posts.ts'
import { shiftAt } from '../../../domain/shifts.ts'
import { STATUSES, createThread, listIncidents, validateTitle } from '../../../domain/threads.ts'
import type { Thread } from '../../../domain/views.ts'
import { translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { dutyOnPage } from './duty-context.ts'
import { type Form, field, formIdempotency, isFormError, messageOf, newFormKey, promiseOf, threadPath } from './shared.ts'
import { DEFAULT_NEXT_UPDATE, nextUpdateFrom, promiseChoices } from './thread-page.ts'

/** Resolved incidents on one page of the list; open ones are all on every page. */
export const RESOLVED_PER_PAGE = 100

/** The field of the new incident form that each refusal is about. */
const FIELD_OF_ERROR: Record<string, string> = {
  invalid_title: 'title',
  empty_body: 'body',
  body_too_long: 'body',
  invalid_status: 'status',
  invalid_next_update: 'next'
}
/** The form's fields in the order they are on the page: the first one wrong takes the focus. */
const FIELDS = ['title', 'status', 'body', 'next']
/** The fields written by hand, checked all together when one is refused. */
const WRITTEN: Array<[string, (value: string) => unknown]> = [['title', validateTitle], ['body', validateBody]]

/**
 * What is wrong with a refused new incident form, field by field: the
 * refusal, and the other written fields' mistakes too, so that a writer
 * fixes them all at once rather than one per try.
 */
function fieldErrors (locale: FastifyRequest['locale'], form: Form, err: AppError): Record<string, string> {
  const errors: Record<string, string> = {}
  const refused = FIELD_OF_ERROR[err.code]
  if (refused === undefined) return errors
  errors[refused] = messageOf(locale, err)
  for (const [name, check] of WRITTEN) {
    if (name === refused) continue
    try {
      check(field(form, name))
    } catch (other) {
      if (other instanceof AppError) errors[name] = messageOf(locale, other)
    }
  }
  return errors
}

const incidentPages: FastifyPluginAsync = async (fastify) => {
  // ?before= (older resolved incidents) is rendered for each request; the first page is cached.
  fastify.get<{ Querystring: { before?: string } }>('/', { config: { cachedPage: () => ({ key: 'incidents', threadId: null }) } }, async (request, reply) =>
    await fastify.pageCache.send(request, reply, async () => {
      const now = request.deps.now()
      // An empty ?before= is the first page.
      const before = request.query.before === '' ? undefined : request.query.before
      const list = await fastify.pageCache.read((db) => listIncidents(db, { before, limit: RESOLVED_PER_PAGE, withOpen: true }))
      const row = (thread: Thread) => ({
        thread,
        href: threadPath(thread),
        activity: thread.lastPostAt ?? thread.createdAt,
        promise: promiseOf(thread.nextUpdateAt, now)
      })
      return reply.pageHtml('incidents', {
        // The language links of the cached list must not carry one reader's query;
        // an older page is rendered for its request, and keeps its place.
        here: before === undefined ? '/' : `/?before=${encodeURIComponent(before)}`,
        duty: { ...dutyOnPage(await fastify.pageCache.duty(), request.actor, request.deps), shiftNow: shiftAt(now, request.deps.timeZone, request.deps.shiftHours) },
        title: translate(request.locale, 'incidents.title'),
        now: now.toISOString(),
        canCreate: isStaff(request.actor),
        open: list.open.map(row),
        resolved: list.resolved.map(row),
        older: list.next === null ? null : `/?before=${list.next}`,
        latest: before !== undefined
      })
    }))

  const showNewForm = (request: FastifyRequest, reply: FastifyReply, form: Form, err?: AppError) => {
    const errors = err === undefined ? {} : fieldErrors(request.locale, form, err)
    const focus = FIELDS.find((name) => errors[name] !== undefined)
    return reply.page('new-incident', {
      title: translate(request.locale, 'newIncident.title'),
      csrf: csrfToken(request, reply),
      formKey: newFormKey(),
      statuses: STATUSES.map((status) => ({ status, selected: status === (field(form, 'status') || 'investigating') })),
      form: { title: field(form, 'title'), body: field(form, 'body') },
      promise: promiseChoices(null, form, DEFAULT_NEXT_UPDATE, errors.next === undefined ? undefined : { errorId: 'next-error', focus: focus === 'next' }),
      // A refusal about no field in particular is said on top.
      error: err === undefined || FIELD_OF_ERROR[err.code] !== undefined ? undefined : messageOf(request.locale, err),
      // Each message goes beside the field it is about; the first of them takes the focus.
      errors,
      focus
    })
  }

  fastify.get('/new', async (request, reply) => {
    if (request.actor === null) return reply.redirect('/login?next=/new', 303)
    requireStaff(request.actor)
    return showNewForm(request, reply, {})
  })

  fastify.post<{ Body: Form }>('/new', async (request, reply) => {
    const form = request.body ?? {}
    try {
      const thread = await createThread(request.deps, request.actor, {
        title: field(form, 'title'),
        body: field(form, 'body'),
        status: field(form, 'status') || undefined,
        nextUpdateAt: nextUpdateFrom(form, request.deps.now(), request.deps.timeZone)
      }, formIdempotency(request, form))
      return reply.redirect(threadPath(thread), 303)
    } catch (err) {
      if (!isFormError(err) || err.statusCode === 403) throw err
      return showNewForm(request, reply.code(err.statusCode), form, err)
    }
  })
}

export default incidentPages
