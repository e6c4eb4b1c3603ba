import type { FastifyPluginAsync } from 'fastify'
import accountPages from './account.ts'
import adminPages from './admin.ts'
import followPages from './follow.ts'
import incidentPages from './incidents.ts'
import moderationPages from './moderation.ts'
import passwordPages from './password.ts'
import postPages from './posts.ts'
import shiftPages from './shifts.ts'
import threadPages from './threads.ts'

/** The forum's pages: server-rendered, every one usable without JavaScript. */
const forumPages: FastifyPluginAsync = async (fastify) => {
  await fastify.register(incidentPages)
  await fastify.register(threadPages)
  await fastify.register(postPages)
  await fastify.register(shiftPages)
  await fastify.register(moderationPages)
  await fastify.register(adminPages)
  await fastify.register(accountPages)
  await fastify.register(followPages)
  await fastify.register(passwordPages)
}

export default forumPages
