import type { FastifyPluginAsync } from 'fastify'
import { PRIVATE_CACHE_CONTROL } from '../../plugins/app/page-cache.ts'
import adminRoutes from './admin.ts'
import followRoutes from './follows.ts'
import moderationRoutes from './moderation.ts'
import postsRoutes from './posts.ts'
import previewRoutes from './preview.ts'
import shiftsRoutes from './shifts.ts'
import threadsRoutes from './threads.ts'
import tokensRoutes from './tokens.ts'

/** The JSON API of CONTRACT.md, mounted under /api/v1. */
const apiRoutes: FastifyPluginAsync = async (fastify) => {
  // What a signed-in caller is answered may be theirs alone (a moderator gets
  // hidden posts' text): no cache between them and us keeps it.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (request.actor !== null && !reply.hasHeader('cache-control')) reply.header('cache-control', PRIVATE_CACHE_CONTROL)
    done(null, payload)
  })
  await fastify.register(tokensRoutes)
  await fastify.register(threadsRoutes)
  await fastify.register(postsRoutes)
  await fastify.register(previewRoutes)
  await fastify.register(shiftsRoutes)
  await fastify.register(moderationRoutes)
  await fastify.register(adminRoutes)
  await fastify.register(followRoutes)
}

export default apiRoutes
