import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { forbidden, tooMany } from '../../domain/errors.ts'
import { getThread } from '../../domain/threads.ts'
import { type IdParams, idParams } from './api/schemas.ts'

interface LiveQuery { since?: number, lang?: 'en' | 'fr' }

/** GET /api/v1/threads/:id/live: the thread's events over a WebSocket (CONTRACT.md). */
const liveRoutes: FastifyPluginAsync = async (fastify) => {
  const perIp = new Map<string, number>()
  const { config } = fastify

  // Browsers send Origin: a page of another site may not open our sockets
  // with the reader's cookies. Tools without Origin are welcome.
  const sameOrigin = (request: FastifyRequest): boolean => {
    const origin = request.headers.origin
    if (origin === undefined) return true
    if (origin === config.publicUrl) return true
    const host = request.headers.host
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)
  }

  fastify.get<{ Params: IdParams, Querystring: LiveQuery }>('/api/v1/threads/:id/live', {
    websocket: true,
    schema: {
      params: idParams,
      querystring: {
        type: 'object',
        properties: {
          since: { type: 'integer', minimum: 0, maximum: 2_147_483_647 },
          lang: { type: 'string', enum: ['en', 'fr'] }
        }
      }
    },
    preHandler: async (request) => {
      if (!sameOrigin(request)) throw forbidden('foreign_origin', 'This page may not open a live stream here.')
      if ((perIp.get(request.ip) ?? 0) >= config.liveSocketsPerIp) {
        throw tooMany('too_many_sockets', 'Too many live connections from this address.', 30)
      }
      await getThread(fastify.db, request.params.id)
    }
  }, async (socket, request) => {
    const ip = request.ip
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1)
    fastify.trackSocket(socket)
    let leave: (() => void) | undefined
    let closed = false
    socket.on('close', () => {
      closed = true
      leave?.()
      const left = (perIp.get(ip) ?? 1) - 1
      if (left === 0) perIp.delete(ip)
      else perIp.set(ip, left)
    })
    socket.on('error', () => socket.terminate())
    try {
      leave = await fastify.hub.join(request.params.id, socket, request.query.since, request.query.lang ?? '')
      if (closed) leave()
    } catch (err) {
      request.log.warn({ err }, 'live stream could not start')
      socket.close(1011, 'try again')
    }
  })
}

export default liveRoutes
