import type { FastifyPluginAsync } from 'fastify'
import { AppError, unauthorized } from '../../../domain/errors.ts'
import { createApiToken } from '../../../domain/tokens.ts'
import { verifyCredentials } from '../../../domain/users.ts'
import { isKnownBrowser, perAddressLimit } from '../pages/auth.ts'
import { tokenKeyOf } from './idempotency.ts'
import { answers, meResponse, tokenResponse } from './schemas.ts'

const tokensRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.post<{ Body: { email: string, password: string } }>('/tokens', {
    config: perAddressLimit(10),
    schema: {
      body: {
        type: 'object',
        required: ['email', 'password'],
        properties: { email: { type: 'string', maxLength: 254 }, password: { type: 'string' } }
      },
      response: answers({ 201: tokenResponse })
    }
  }, async (request, reply) => {
    const { email, password } = request.body
    const actor = await fastify.loginAttempts.verify(email, request.network, isKnownBrowser(request, email),
      async () => await verifyCredentials(fastify.db, email, password))
    if (actor === null) throw new AppError(401, 'invalid_credentials', 'Wrong e-mail address or password.')
    // A retry with the same key gets the same token; the password is no part of what is kept.
    const token = await createApiToken(fastify.db, actor.id, tokenKeyOf(request, { email: email.toLowerCase() }))
    return await reply.code(201).send({ token })
  })

  fastify.get('/me', { schema: { response: answers({ 200: meResponse }) } }, async (request) => {
    if (request.actor === null) throw unauthorized()
    const { id, name, email, role, shift, locale } = request.actor
    return { id, name, email, role, shift, locale }
  })
}

export default tokensRoutes
