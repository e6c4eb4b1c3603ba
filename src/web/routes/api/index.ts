import type { FastifyPluginAsync } from 'fastify'
import postsRoutes from './posts.ts'
import threadsRoutes from './threads.ts'
import tokensRoutes from './tokens.ts'

/** The JSON API of CONTRACT.md, mounted under /api/v1. */
const apiRoutes: FastifyPluginAsync = async (fastify) => {
  await fastify.register(tokensRoutes)
  await fastify.register(threadsRoutes)
  await fastify.register(postsRoutes)
}

export default apiRoutes
