import type { FastifyPluginAsync } from 'fastify'
import { dismissFlags, flagPost, hideFlagged, listFlagQueue } from '../../../domain/flags.ts'
import { listAudit, listPins, postAndPinSummary, setAnswer } from '../../../domain/moderation.ts'
import { idempotencyOf } from './idempotency.ts'
import { type IdParams, answers, auditResponse, flagResponse, flaggedPostResponse, idParams, listOf, pinResponse, postResponse } from './schemas.ts'

const idValue = { type: 'integer', minimum: 1, maximum: 2_147_483_647 } as const

/** Moderators' tools: pin history, summaries, flags, answers, the audit log. */
const moderationRoutes: FastifyPluginAsync = async (fastify) => {
  const { db } = fastify

  fastify.get<{ Params: IdParams }>('/threads/:id/pins', { schema: { params: idParams, response: answers({ 200: listOf('pins', pinResponse) }) } },
    async (request) => ({ pins: await listPins(db, request.params.id, request.actor) }))

  fastify.post<{ Params: IdParams, Body: { body: string } }>('/threads/:id/summary', {
    schema: { params: idParams, body: { type: 'object', required: ['body'], properties: { body: { type: 'string' } } }, response: answers({ 201: postResponse }) }
  }, async (request, reply) => reply.code(201).send(await postAndPinSummary(request.deps, request.actor, request.params.id, request.body, idempotencyOf(request))))

  fastify.post<{ Params: IdParams, Body: { reason: string } }>('/posts/:id/flags', {
    schema: { params: idParams, body: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } }, response: answers({ 201: flagResponse }) }
  }, async (request, reply) => reply.code(201).send(await flagPost(request.deps, request.actor, request.params.id, request.body, idempotencyOf(request))))

  fastify.get('/flags', { schema: { response: answers({ 200: listOf('flags', flaggedPostResponse) }) } }, async (request) => ({ flags: await listFlagQueue(db, request.actor) }))

  fastify.post<{ Params: IdParams }>('/posts/:id/flags/hide', { schema: { params: idParams, response: answers({ 200: postResponse }) } },
    async (request) => await hideFlagged(request.deps, request.actor, request.params.id, idempotencyOf(request)))

  fastify.post<{ Params: IdParams }>('/posts/:id/flags/dismiss', { schema: { params: idParams, response: answers({ 200: postResponse }) } },
    async (request) => await dismissFlags(request.deps, request.actor, request.params.id, idempotencyOf(request)))

  fastify.put<{ Params: IdParams, Body: { updateId: number } }>('/posts/:id/answer', {
    schema: { params: idParams, body: { type: 'object', required: ['updateId'], properties: { updateId: idValue } }, response: answers({ 200: postResponse }) }
  }, async (request) => await setAnswer(request.deps, request.actor, request.params.id, request.body.updateId))

  fastify.delete<{ Params: IdParams }>('/posts/:id/answer', { schema: { params: idParams, response: answers({ 200: postResponse }) } },
    async (request) => await setAnswer(request.deps, request.actor, request.params.id, null))

  fastify.get<{ Querystring: { threadId?: number, actorId?: number, before?: number } }>('/audit', {
    schema: { querystring: { type: 'object', properties: { threadId: idValue, actorId: idValue, before: idValue } }, response: answers({ 200: listOf('audit', auditResponse) }) }
  }, async (request) => ({ audit: await listAudit(db, request.actor, request.query) }))
}

export default moderationRoutes
