import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { isStaff } from '../../domain/actors.ts'
import { AppError, badRequest, forbidden, overloaded, tooMany } from '../../domain/errors.ts'
import { getThread } from '../../domain/threads.ts'
import { liveVariant } from '../plugins/app/live.ts'
import { SHED_RETRY_AFTER } from '../plugins/app/pressure.ts'
import { type IdParams, idParams } from './api/schemas.ts'

interface LiveQuery { since?: number, lang?: 'en' | 'fr' }

/** GET /api/v1/threads/:id/live: the thread's events over a WebSocket (CONTRACT.md). */
const liveRoutes: FastifyPluginAsync = async (fastify) => {
  const perIp = new Map<string, number>()
  // Each upgrade's place, given back by its socket's close.
  const places = new WeakMap<FastifyRequest, () => void>()
  const { config } = fastify

  /**
   * Counts a socket of this address in before the handshake waits for
   * anything: sockets opened all at once cannot each pass the check. The
   * place is given back once, when the connection ends, whatever became of it.
   */
  const reserve = (request: FastifyRequest): () => void => {
    // Counted by address, an IPv6 one too: a campus network gives one /64 to thousands of readers.
    const ip = request.ip
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1)
    let given = false
    const release = (): void => {
      if (given) return
      given = true
      const left = (perIp.get(ip) ?? 1) - 1
      if (left === 0) perIp.delete(ip)
      else perIp.set(ip, left)
    }
    // An upgrade injected without a connection (`injectWS`) has none: its WebSocket's close gives the place back.
    const connection: Socket | undefined = request.raw.socket
    connection?.once('close', release)
    places.set(request, release)
    return release
  }

  /** The place of an upgrade gone through, for its WebSocket's close to give back: a socket held for hours carries no more than that. */
  const takePlace = (request: FastifyRequest): (() => void) | undefined => {
    const release = places.get(request)
    places.delete(request)
    const connection: Socket | undefined = request.raw.socket
    if (release !== undefined) connection?.removeListener('close', release)
    return release
  }

  // Browsers send Origin: a page of another site may not open our sockets
  // with the reader's cookies. Tools without Origin are welcome.
  const sameOrigin = (request: FastifyRequest): boolean => {
    const origin = request.headers.origin
    if (origin === undefined) return true
    if (origin === config.publicUrl) return true
    const host = request.headers.host
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)
  }

  fastify.route<{ Params: IdParams, Querystring: LiveQuery }>({
    method: 'GET',
    url: '/api/v1/threads/:id/live',
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
      // Readers already connected keep their sockets; new ones wait while the process is overloaded (staff excepted).
      if (!isStaff(request.actor) && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
      if (!sameOrigin(request)) throw forbidden('foreign_origin', 'This page may not open a live stream here.')
      if ((perIp.get(request.ip) ?? 0) >= config.liveSocketsPerIp) {
        throw tooMany('too_many_sockets', 'Too many live connections from this address.', 30)
      }
      // A plain GET opens no socket: it only hears the 426 below.
      const release = request.ws ? reserve(request) : () => {}
      try {
        const thread = await getThread(fastify.db, request.params.id)
        // A seq the thread has not reached could only wait for ever: the log, which is the truth, says so now.
        const since = request.query.since
        if (since !== undefined && since > thread.lastSeq) {
          throw badRequest('since_ahead', `This thread's events stop at ${thread.lastSeq}: reconnect with a seq you received, or without since.`)
        }
      } catch (err) {
        release()
        throw err
      }
    },
    // A plain GET gets the contract's error shape, not the websocket plugin's empty 404.
    handler: async (_request, reply) => {
      reply.header('upgrade', 'websocket')
      throw new AppError(426, 'upgrade_required', 'This address is a live stream: open it as a WebSocket.')
    },
    wsHandler: async (socket, request) => {
      const threadId = request.params.id
      const since = request.query.since
      const variant = liveVariant(request.query.lang, request.actor)
      const log = request.log
      releaseUpgrade(socket)
      fastify.trackSocket(socket, request.actor)
      let leave: (() => void) | undefined
      let closed = false
      const release = takePlace(request)
      socket.on('close', () => {
        closed = true
        leave?.()
        release?.()
      })
      try {
        leave = await fastify.hub.join(threadId, socket, since, variant)
        if (closed) leave()
        else fastify.socketJoined(socket)
      } catch (err) {
        log.warn({ err }, 'live stream could not start')
        socket.close(1011, 'try again')
      }
    }
  })
}

/**
 * A reader's socket lives for hours; the upgrade's request and reply must not
 * live as long. They are held by the error listener the websocket plugin adds
 * and by the TCP socket's link to its HTTP response.
 */
function releaseUpgrade (socket: WebSocket): void {
  socket.removeAllListeners('error')
  socket.on('error', () => socket.terminate())
  const tcp = (socket as unknown as { _socket?: Socket & { _httpMessage?: ServerResponse | null } })._socket
  if (tcp?._httpMessage != null) tcp._httpMessage.detachSocket(tcp)
}

export default liveRoutes
