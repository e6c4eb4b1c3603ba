import type { FastifyPluginAsync } from 'fastify'
import incidentPages from './incidents.ts'
import postPages from './posts.ts'
import threadPages from './threads.ts'

/** The forum's pages: server-rendered, every one usable without JavaScript. */
const forumPages: FastifyPluginAsync = async (fastify) => {
  await fastify.register(incidentPages)
  await fastify.register(threadPages)
  await fastify.register(postPages)
}

export default forumPages
