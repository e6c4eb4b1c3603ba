import type { FastifyPluginAsync } from 'fastify'
import { checkIn, checkOut, dutyNow } from '../../../domain/duty.ts'
import { type HandoverNotes, postHandover } from '../../../domain/handover.ts'
import { type ShiftHours, shiftSchedule, updateShiftHours } from '../../../domain/shifts.ts'
import { handoverHeadings } from '../pages/shifts.ts'
import { idempotencyOf } from './idempotency.ts'
import { type IdParams, answers, dutyResponse, idParams, nullableString, postResponse, scheduleResponse } from './schemas.ts'

const hour = { type: 'integer' } as const

/** The shift schedule, duty and handovers. */
const shiftsRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get('/shifts', { schema: { response: answers({ 200: scheduleResponse }) } }, async (request) => shiftSchedule(request.deps))

  fastify.put<{ Body: ShiftHours }>('/shifts', {
    schema: { body: { type: 'object', required: ['day', 'evening', 'night'], properties: { day: hour, evening: hour, night: hour } }, response: answers({ 200: scheduleResponse }) }
  }, async (request) => await updateShiftHours(request.deps, request.actor, request.body))

  fastify.get('/duty', { schema: { response: answers({ 200: dutyResponse }) } }, async (request) => await dutyNow(fastify.db, request.deps.now()))

  // The body is optional (none is a check-in too): `{"lead": true}` takes the lead, and a
  // `lead` that is not a boolean is a mistake to say, not to ignore.
  fastify.post<{ Body: { lead?: boolean } }>('/duty/check-in', {
    preValidation: (request, _reply, done) => { request.body ??= {}; done() },
    schema: { body: { type: 'object', properties: { lead: { type: 'boolean' } } }, response: answers({ 200: dutyResponse }) }
  }, async (request) => await checkIn(request.deps, request.actor, { lead: request.body.lead === true }, idempotencyOf(request)))

  fastify.post('/duty/check-out', { schema: { response: answers({ 200: dutyResponse }) } }, async (request) => await checkOut(request.deps, request.actor, idempotencyOf(request)))

  // The three notes become the post's Markdown, with headings in the poster's language.
  fastify.post<{ Params: IdParams, Body: HandoverNotes }>('/threads/:id/handover', {
    schema: {
      params: idParams,
      body: {
        type: 'object',
        properties: { done: { type: 'string' }, pending: { type: 'string' }, next: { type: 'string' }, nextUpdateAt: nullableString, checkOut: { type: 'boolean' } }
      },
      response: answers({ 201: postResponse })
    }
  }, async (request, reply) => {
    const post = await postHandover(request.deps, request.actor, request.params.id, request.body, handoverHeadings(request.locale), idempotencyOf(request))
    return await reply.code(201).send(post)
  })
}

export default shiftsRoutes
