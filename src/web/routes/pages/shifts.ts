import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { requireStaff } from '../../../domain/actors.ts'
import { checkIn, checkOut } from '../../../domain/duty.ts'
import type { AppError } from '../../../domain/errors.ts'
import { postHandover } from '../../../domain/handover.ts'
import { requireAdmin } from '../../../domain/actors.ts'
import { SHIFTS, nextShift, shiftOfAuthor, shiftSchedule, updateShiftHours } from '../../../domain/shifts.ts'
import { getThread, updateThread } from '../../../domain/threads.ts'
import { type Locale, translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { safeNext } from './auth.ts'
import { type Form, field, formIdempotency, isFormError, messageOf, newFormKey, parseId, threadPath } from './shared.ts'
import { cadenceOf, moderate, nextUpdateFrom, promiseChoices } from './thread-page.ts'

interface ThreadParams { id: string }

/** Where a form leads back to: a path of this site only. */
const backTo = (form: Form | undefined): string => safeNext(field(form, 'next'))

const hourOf = (raw: string): number | string => /^\d{1,2}$/.test(raw.trim()) ? Number(raw.trim()) : raw

export const handoverHeadings = (locale: Locale) => ({
  done: translate(locale, 'handover.heading.done'),
  pending: translate(locale, 'handover.heading.pending'),
  next: translate(locale, 'handover.heading.next')
})

/** The part of the handover form a refusal is about. */
const HANDOVER_FIELD: Partial<Record<string, 'done' | 'next'>> = { empty_handover: 'done', invalid_next_update: 'next' }

/** The shift schedule for admins, duty check-in and check-out, the handover form and the thread's cadence. */
const shiftPages: FastifyPluginAsync = async (fastify) => {
  const showSchedule = (request: FastifyRequest, reply: FastifyReply, form: Form | null, error?: string) => {
    const schedule = shiftSchedule(request.deps)
    return reply.page('admin-shifts', {
      title: translate(request.locale, 'adminShifts.title'),
      here: '/admin/shifts',
      csrf: csrfToken(request, reply),
      timeZone: schedule.timeZone,
      current: schedule.current,
      shifts: SHIFTS.map((shift) => ({ shift, hour: form === null ? schedule[shift] : field(form, shift) })),
      saved: (request.query as Record<string, unknown>).saved === '1' && error === undefined,
      error
    })
  }

  fastify.get('/admin/shifts', async (request, reply) => {
    if (request.actor === null) return reply.redirect('/login?next=/admin/shifts', 303)
    requireAdmin(request.actor)
    return showSchedule(request, reply, null)
  })

  fastify.post<{ Body: Form }>('/admin/shifts', async (request, reply) => {
    const form = request.body ?? {}
    try {
      await updateShiftHours(request.deps, request.actor, { day: hourOf(field(form, 'day')), evening: hourOf(field(form, 'evening')), night: hourOf(field(form, 'night')) })
      return reply.redirect('/admin/shifts?saved=1', 303)
    } catch (err) {
      if (!isFormError(err) || err.statusCode === 403) throw err
      return showSchedule(request, reply.code(err.statusCode), form, messageOf(request.locale, err))
    }
  })

  fastify.post<{ Body: Form }>('/duty/check-in', async (request, reply) => {
    await checkIn(request.deps, request.actor, { lead: field(request.body, 'lead') === 'on' })
    return reply.redirect(backTo(request.body), 303)
  })

  fastify.post<{ Body: Form }>('/duty/check-out', async (request, reply) => {
    await checkOut(request.deps, request.actor)
    return reply.redirect(backTo(request.body), 303)
  })

  /** The handover form; `checkOut`: whether its box to check out is ticked. */
  const showHandover = async (request: FastifyRequest, reply: FastifyReply, threadId: number, form: Form, checkOut: boolean, refused?: AppError) => {
    const staff = requireStaff(request.actor)
    const thread = await getThread(fastify.db, threadId)
    const from = shiftOfAuthor(staff, request.deps.now(), request.deps.timeZone, request.deps.shiftHours, 'handover') ?? 'day'
    const onDuty = (await fastify.pageCache.duty()).onDuty.some((person) => person.userId === staff.id)
    const wrong = refused === undefined ? undefined : HANDOVER_FIELD[refused.code]
    return reply.page('handover', {
      title: translate(request.locale, 'handover.title'),
      here: `/t/${thread.id}/handover`,
      csrf: csrfToken(request, reply),
      formKey: newFormKey(),
      thread,
      threadHref: threadPath(thread),
      from,
      to: nextShift(from, request.deps.shiftHours),
      form: { done: field(form, 'done'), pending: field(form, 'pending'), next: field(form, 'nextSteps') },
      promise: promiseChoices(cadenceOf(thread), form, thread.status !== 'resolved' ? '60' : 'none', wrong === 'next' ? { errorId: 'handover-error', focus: true } : undefined),
      // Offered to whoever is on duty; ticked when they came to hand over and
      // check out, or ticked it before the form was refused.
      checkOut: { offered: onDuty, checked: checkOut },
      error: refused === undefined ? undefined : messageOf(request.locale, refused),
      // Nothing written: the first box is marked, and takes the focus.
      emptyWrong: wrong === 'done'
    })
  }

  // ?checkOut=1: from "Hand over and check out"; the plain "Hand over" link leaves its author on duty.
  fastify.get<{ Params: ThreadParams, Querystring: { checkOut?: string } }>('/t/:id/handover', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const checkOut = request.query.checkOut === '1'
    if (request.actor === null) return reply.redirect(`/login?next=${encodeURIComponent(`/t/${threadId}/handover${checkOut ? '?checkOut=1' : ''}`)}`, 303)
    return await showHandover(request, reply, threadId, {}, checkOut)
  })

  fastify.post<{ Params: ThreadParams, Body: Form }>('/t/:id/handover', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const form = request.body ?? {}
    try {
      const post = await postHandover(request.deps, request.actor, threadId, {
        done: field(form, 'done'),
        pending: field(form, 'pending'),
        next: field(form, 'nextSteps'),
        nextUpdateAt: nextUpdateFrom(form, request.deps.now(), request.deps.timeZone),
        // With the handover, never before it: the shift ends with the news passed on.
        checkOut: field(form, 'checkOut') === 'on'
      }, handoverHeadings(request.locale), formIdempotency(request, form))
      return reply.redirect(`/t/${threadId}#p-${post.id}`, 303)
    } catch (err) {
      if (!isFormError(err) || err.statusCode === 403) throw err
      return await showHandover(request, reply.code(err.statusCode), threadId, form, field(form, 'checkOut') === 'on', err)
    }
  })

  fastify.post<{ Params: ThreadParams, Body: Form }>('/t/:id/cadence', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const raw = field(request.body, 'cadenceMinutes').trim()
    const cadenceMinutes = raw === '' ? null : Number(raw)
    // Refused, its panel opens again with what was typed, and says why there.
    return await moderate(fastify, request, reply, threadId, () => updateThread(request.deps, request.actor, threadId, { cadenceMinutes }), '#cadence', { cadence: raw })
  })
}

export default shiftPages
