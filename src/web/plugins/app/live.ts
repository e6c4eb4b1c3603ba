import websocket from '@fastify/websocket'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import { type Actor, isModerator, isStaff } from '../../../domain/actors.ts'
import { shiftOnDuty } from '../../../domain/shifts.ts'
import { type ThreadEvent, readerEvent } from '../../../live/events.ts'
import { Hub } from '../../../live/hub.ts'
import { Relay } from '../../../live/relay.ts'
import { isLocale } from '../../i18n.ts'
import { type Viewer, postContext } from '../../post-fragments.ts'
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
/** How long a socket told the server is going away has to answer, before it is cut. */
const CLOSE_ANSWER_MS = 1_000
/** Close code for a reader whose account changed (signed out, another role): they reconnect as who they are now. */
export const CLOSE_ACCOUNT_CHANGED = 4001

/**
 * What a signed-in reader's page may do with a post, by role: the live views
 * are rendered once per language and role, not per reader. (Their own posts'
 * edit links come with their next page load.)
 */
const LIVE_VIEWERS: Record<string, Viewer> = {
  m: { id: 0, staff: true, moderator: true, canComment: true },
  s: { id: 0, staff: true, moderator: false, canComment: true },
  c: { id: 0, staff: false, moderator: false, canComment: true }
}

/** The variant a page's socket gets: its language, and for a signed-in reader their role's letter (`fr|m`). */
export function liveVariant (lang: string | undefined, actor: Actor | null): string {
  if (lang === undefined) return ''
  if (actor === null) return lang
  return `${lang}|${isModerator(actor) ? 'm' : isStaff(actor) ? 's' : 'c'}`
}

export default fp<LivePluginOptions>(async (fastify, options) => {
  const alive = new WeakSet<WebSocket>()
  // Sockets caught up with their thread, which the page's script hears pinged.
  const joined = new WeakSet<WebSocket>()
  const sockets = new Set<WebSocket>()
  // The page's own script asks for its language, and gets the markup the page
  // itself is made of: the same partials render a post on load and live.
  const render = (whole: ThreadEvent, variant: string): Record<string, unknown> => {
    const [locale, role] = variant.split('|')
    if (!isLocale(locale)) return {}
    const viewer = role === undefined ? null : LIVE_VIEWERS[role] ?? null
    // Moderators see a hidden post's text, and may restore it; nobody else does.
    const event = viewer?.moderator === true ? whole : readerEvent(whole)
    if ('post' in event) {
      // Signed-in pages put their own CSRF token in the forms, and mark the pinned post.
      const handoverLead = whole.type === 'post.created' ? whole.handoverLead : undefined
      const item = { post: event.post, locale, viewer, canEdit: viewer?.moderator === true, isPinned: false, handoverLead }
      return { view: fastify.views.partial('post', postContext(item, '')) }
    }
    const now = fastify.deps.now()
    const rendered: Record<string, unknown> = {
      stateView: fastify.views.partial('thread-state', {
        thread: event.thread,
        promise: promiseOf(event.thread.nextUpdateAt, now),
        onDuty: shiftOnDuty(now, fastify.deps.timeZone, fastify.deps.shiftHours),
        now: now.toISOString(),
        locale
      })
    }
    if (event.pinnedPost !== undefined) {
      rendered.pinnedView = event.pinnedPost === null ? '' : fastify.views.partial('current-state', { pinned: event.pinnedPost, locale })
    }
    // The state that ended goes to the earlier states: the page moves its copy of the post there, under this line.
    if (event.unpinned != null) rendered.unpinnedView = fastify.views.partial('pin-history-meta', { ...event.unpinned, locale })
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
      // The server closes once every socket has: one whose peer stopped
      // reading never answers the close, and would hold up the stop (and the
      // connections refused meanwhile) until the process is cut off.
      const cut = setTimeout(() => { for (const socket of fastify.websocketServer.clients) socket.terminate() }, CLOSE_ANSWER_MS)
      fastify.websocketServer.close(() => {
        clearTimeout(cut)
        done()
      })
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
      if (joined.has(socket)) socket.send(PING)
    }
  }, options.pingEveryMs ?? 30_000)
  pinger.unref()

  // A signed-in reader's sockets, by user: when the database announces a
  // change to them (signed out, another role), their sockets are closed, and
  // reconnect with what they may see now.
  const socketsOf = new Map<number, Set<WebSocket>>()
  const accountChanged = (userId: number | null): void => {
    const closing = userId !== null ? [...socketsOf.get(userId) ?? []] : [...socketsOf.values()].flatMap((set) => [...set])
    for (const socket of closing) socket.close(CLOSE_ACCOUNT_CHANGED, 'account changed, reconnect')
  }
  fastify.notifications.onUserChanged(accountChanged)
  // While this instance did not listen, such an announcement may have gone
  // unheard: every signed-in reader reconnects, and is checked again.
  fastify.notifications.onListening(() => { accountChanged(null) })

  // The first ping tells the page it has caught up: a page served as it was
  // while the database was away drops its notice then.
  fastify.decorate('socketJoined', (socket: WebSocket) => {
    joined.add(socket)
    socket.send(PING)
  })

  fastify.decorate('trackSocket', (socket: WebSocket, actor: Actor | null) => {
    sockets.add(socket)
    alive.add(socket)
    socket.on('pong', () => alive.add(socket))
    socket.on('message', () => alive.add(socket))
    socket.on('close', () => sockets.delete(socket))
    if (actor === null) return
    let own = socketsOf.get(actor.id)
    if (own === undefined) socketsOf.set(actor.id, own = new Set())
    own.add(socket)
    socket.on('close', () => {
      own.delete(socket)
      if (own.size === 0 && socketsOf.get(actor.id) === own) socketsOf.delete(actor.id)
    })
  })

  relay.start()
  fastify.addHook('onClose', async () => {
    clearInterval(pinger)
    relay.stop()
  })
}, { name: 'live', dependencies: ['database'] })

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts a new live socket in, for pings and shutdown, and under its reader's account when signed in. */
    trackSocket: (socket: WebSocket, actor: Actor | null) => void
    /** Marks a socket as caught up with its thread, and tells it so with a ping. */
    socketJoined: (socket: WebSocket) => void
  }
}
