import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { requireSignedIn } from '../../../domain/actors.ts'
import { mailNotSent } from '../../../domain/errors.ts'
import { follow, followState, followedBy, unfollow } from '../../../domain/subscriptions.ts'
import { getThread } from '../../../domain/threads.ts'
import { perAddressLimit } from '../pages/auth.ts'
import { noMail } from '../pages/follow.ts'
import { type IdParams, answers, followResponse, followsResponse, idParams } from './schemas.ts'

/**
 * Following an incident by e-mail, as the pages do it (README, "Following an
 * incident by e-mail"): for a script or an app of the signed-in user's own.
 */
const followRoutes: FastifyPluginAsync = async (fastify) => {
  const signedIn = (request: FastifyRequest) => {
    const user = requireSignedIn(request.actor)
    if (fastify.mailer === null) throw noMail()
    return user
  }

  fastify.get('/me/follows', { schema: { response: answers({ 200: followsResponse }) } }, async (request) => {
    const user = signedIn(request)
    return { follows: await followedBy(fastify.db, user.id) }
  })

  fastify.get<{ Params: IdParams }>('/threads/:id/follow', { schema: { params: idParams, response: answers({ 200: followResponse }) } }, async (request) => {
    const user = signedIn(request)
    const thread = await getThread(fastify.db, request.params.id)
    return await followState(request.deps, user.id, thread.id)
  })

  // Following again changes nothing, but sends the link to confirm the address
  // again when it may go: a call that found the mail server away is tried again as it is.
  fastify.put<{ Params: IdParams }>('/threads/:id/follow', { config: perAddressLimit(20), schema: { params: idParams, response: answers({ 200: followResponse }) } }, async (request) => {
    const user = signedIn(request)
    const thread = await follow(request.deps, user, request.params.id)
    // The follow is kept; the link to confirm the address, not sent, is said so, as the page says it.
    if (await fastify.sendConfirmLink(user, thread.title) === 'failed') throw mailNotSent()
    return await followState(request.deps, user.id, thread.id)
  })

  fastify.delete<{ Params: IdParams }>('/threads/:id/follow', { schema: { params: idParams, response: answers({ 200: followResponse }) } }, async (request) => {
    const user = signedIn(request)
    const thread = await getThread(fastify.db, request.params.id)
    await unfollow(request.deps, user.id, thread.id)
    return await followState(request.deps, user.id, thread.id)
  })
}

export default followRoutes
