import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'kysely'

const healthRoutes: FastifyPluginAsync = async (fastify) => {
  // Up as long as the process answers: for the process supervisor.
  fastify.get('/healthz', async () => ({ status: 'ok' }))

  // Ready while the database answers: for the load balancer.
  fastify.get('/readyz', async (_request, reply) => {
    try {
      await Promise.race([
        sql`select 1`.execute(fastify.db),
        new Promise((_resolve, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())
      ])
      return { status: 'ready' }
    } catch {
      return await reply.code(503).header('retry-after', '5')
        .send({ error: { code: 'database_unavailable', message: 'The database does not answer.' } })
    }
  })
}

export default healthRoutes
