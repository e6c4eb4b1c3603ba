import type { FastifyPluginAsync } from 'fastify'
import { type UserPatch, changeUser, createTokenFor, listTokens, listUsers, revokeToken } from '../../../domain/admin.ts'
import { tokenKeyOf } from './idempotency.ts'
import { type IdParams, answers, idParams, listOf, newTokenResponse, nullableString, tokenSummaryResponse, userResponse } from './schemas.ts'

/** Admins: users, roles and shifts; API tokens. */
const adminRoutes: FastifyPluginAsync = async (fastify) => {
  const { db } = fastify

  fastify.get('/users', { schema: { response: answers({ 200: listOf('users', userResponse) }) } }, async (request) => ({ users: await listUsers(db, request.actor) }))

  fastify.patch<{ Params: IdParams, Body: UserPatch }>('/users/:id', {
    schema: { params: idParams, body: { type: 'object', properties: { role: { type: 'string' }, shift: nullableString } }, response: answers({ 200: userResponse }) }
  }, async (request) => await changeUser(request.deps, request.actor, request.params.id, request.body))

  fastify.get('/admin/tokens', { schema: { response: answers({ 200: listOf('tokens', tokenSummaryResponse) }) } }, async (request) => ({ tokens: await listTokens(db, request.actor) }))

  fastify.post<{ Body: { userId: number, label?: string | null } }>('/admin/tokens', {
    schema: {
      body: { type: 'object', required: ['userId'], properties: { userId: { type: 'integer', minimum: 1, maximum: 2_147_483_647 }, label: nullableString } },
      response: answers({ 201: newTokenResponse })
    }
  }, async (request, reply) => {
    const { id, token } = await createTokenFor(request.deps, request.actor, request.body.userId, tokenKeyOf(request), request.body.label)
    return await reply.code(201).send({ id, token })
  })

  fastify.delete<{ Params: IdParams }>('/admin/tokens/:id', { schema: { params: idParams, response: answers({}) } }, async (request, reply) => {
    await revokeToken(request.deps, request.actor, request.params.id)
    return await reply.code(204).send()
  })
}

export default adminRoutes
