import type { FastifyPluginAsync } from 'fastify'
import adminRoutes from './admin.ts'
import moderationRoutes from './moderation.ts'
import postsRoutes from './posts.ts'
import previewRoutes from './preview.ts'
import shiftsRoutes from './shifts.ts'
import threadsRoutes from './threads.ts'
import tokensRoutes from './tokens.ts'

/** The JSON API of CONTRACT.md, mounted under /api/v1. */
const apiRoutes: FastifyPluginAsync = async (fastify) => {
  await fastify.register(tokensRoutes)
  await fastify.register(threadsRoutes)
  await fastify.register(postsRoutes)
  await fastify.register(previewRoutes)
  await fastify.register(shiftsRoutes)
  await fastify.register(moderationRoutes)
  await fastify.register(adminRoutes)
}

export default apiRoutes
