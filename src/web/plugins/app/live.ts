import websocket from '@fastify/websocket'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import { shiftAt } from '../../../domain/shifts.ts'
import type { ThreadEvent } from '../../../live/events.ts'
import { Hub } from '../../../live/hub.ts'
import { Relay } from '../../../live/relay.ts'
import { isLocale } from '../../i18n.ts'
import { promiseOf } from '../../routes/pages/shared.ts'

declare module 'fastify' {
  interface FastifyInstance {
    hub: Hub
    /** Open live sockets, for pings and shutdown. */
    liveSockets: Set<WebSocket>
  }
}

export interface LivePluginOptions {
  /** How often sockets are pinged; one that has not answered the previous ping is closed. */
  pingEveryMs?: number
  /** How often the log is checked for events another instance's notification did not bring. */
  relayCheckEveryMs?: number
  /** Bytes waiting on one socket beyond which it is closed as too slow. */
  maxBufferedBytes?: number
}

/** Close code for a server going away: clients reconnect, elsewhere if need be. */
export const CLOSE_GOING_AWAY = 1001

export default fp<LivePluginOptions>(async (fastify, options) => {
  const alive = new WeakSet<WebSocket>()
  const sockets = new Set<WebSocket>()
  // The page's own script asks for its language, and gets the markup the page
  // itself is made of: the same partials render a post on load and live.
  const render = (event: ThreadEvent, variant: string): Record<string, unknown> => {
    if (!isLocale(variant)) return {}
    const locale = variant
    if ('post' in event) return { view: fastify.views.partial('post', { post: event.post, locale }) }
    const now = fastify.deps.now()
    const rendered: Record<string, unknown> = {
      stateView: fastify.views.partial('thread-state', {
        thread: event.thread,
        promise: promiseOf(event.thread.nextUpdateAt, now),
        onDuty: shiftAt(now, fastify.deps.timeZone, fastify.deps.shiftHours),
        now: now.toISOString(),
        locale
      })
    }
    if (event.pinnedPost !== undefined) {
      rendered.pinnedView = event.pinnedPost === null ? '' : fastify.views.partial('current-state', { pinned: event.pinnedPost, locale })
    }
    return rendered
  }
  const hub = new Hub({
    db: fastify.db,
    maxBufferedBytes: options.maxBufferedBytes,
    decorate: render,
    onError: (err) => fastify.log.warn({ err }, 'live stream could not read the log')
  })
  const relay = new Relay({ db: fastify.db, hub, notifications: fastify.notifications, checkEveryMs: options.relayCheckEveryMs, log: fastify.log })
  fastify.decorate('hub', hub)
  fastify.decorate('liveSockets', sockets)

  await fastify.register(websocket, {
    // Clients send next to nothing: a small bound refuses floods early.
    options: { maxPayload: 4096, perMessageDeflate: false },
    preClose: (done) => {
      for (const socket of sockets) socket.close(CLOSE_GOING_AWAY, 'server shutting down')
      fastify.websocketServer.close(() => done())
    }
  })

  const PING = JSON.stringify({ type: 'ping' })
  const pinger = setInterval(() => {
    for (const socket of sockets) {
      if (!alive.has(socket)) {
        socket.terminate()
        continue
      }
      alive.delete(socket)
      socket.ping()
      socket.send(PING)
    }
  }, options.pingEveryMs ?? 30_000)
  pinger.unref()

  fastify.decorate('trackSocket', (socket: WebSocket) => {
    sockets.add(socket)
    alive.add(socket)
    socket.on('pong', () => alive.add(socket))
    socket.on('message', () => alive.add(socket))
    socket.on('close', () => sockets.delete(socket))
  })

  relay.start()
  fastify.addHook('onClose', async () => {
    clearInterval(pinger)
    relay.stop()
  })
}, { name: 'live', dependencies: ['database'] })

declare module 'fastify' {
  interface FastifyInstance {
    trackSocket: (socket: WebSocket) => void
  }
}
