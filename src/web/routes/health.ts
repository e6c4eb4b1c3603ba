import type { FastifyPluginAsync } from 'fastify'
import { DATABASE_RETRY_AFTER, databaseUnavailable } from '../../domain/errors.ts'
import { pickLocale, translate } from '../i18n.ts'
import { answers, statusResponse } from './api/schemas.ts'

/** How long the database has to answer before the instance is reported not ready. */
const READY_TIMEOUT_MS = 2000

// A probe's default token or a stale cookie says nothing about the process: not read.
const status = { config: { anyone: true }, schema: { response: answers({ 200: statusResponse }) } }

const healthRoutes: FastifyPluginAsync = async (fastify) => {
  // Up as long as the process answers: for the process supervisor.
  fastify.get('/healthz', status, async () => ({ status: 'ok' }))

  // Ready while the database answers: for the load balancer. Always JSON, whatever it accepts.
  fastify.get('/readyz', status, async (request, reply) => {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        fastify.database.ping(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS) })
      ])
      return { status: 'ready' }
    } catch {
      // Read by people too (an operator's browser): in their language, from what the request carries.
      const { code } = databaseUnavailable()
      const message = translate(pickLocale(request), `errors.${code}`)
      return await reply.code(503).header('retry-after', String(DATABASE_RETRY_AFTER)).send({ error: { code, message } })
    } finally {
      clearTimeout(timer)
    }
  })
}

export default healthRoutes
