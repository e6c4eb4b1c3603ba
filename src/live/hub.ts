import type { Kysely } from 'kysely'
import type { Database } from '../db/database.ts'
import { type Limiter, createLimiter } from '../domain/limiter.ts'
import { type ThreadEvent, eventsSince, readerEvent } from './events.ts'

/** The part of a WebSocket the hub needs; `ws` sockets fit it. */
export interface LiveSocket {
  readonly bufferedAmount: number
  /** As ws counts it: OPEN (1) while the peer is there. */
  readonly readyState: number
  /** Sent as a text frame: the bytes are UTF-8 JSON. */
  send: (data: Buffer, options: { binary: false }) => void
  close: (code?: number, reason?: string) => void
}

const OPEN = 1
/** A subscriber left, or its peer did: a replay under way stops (its socket closed before `join` could hand back `leave`). */
const gone = (subscriber: Subscriber): boolean => subscriber.closed || subscriber.socket.readyState !== OPEN

export interface HubOptions {
  db: Kysely<Database>
  /** A socket with more than this many bytes waiting to be sent is closed: it reconnects and replays. */
  maxBufferedBytes?: number
  /** How long a replay waits for a socket that does not read before closing it as too slow. */
  drainTimeoutMs?: number
  /**
   * Extra rendering for sockets that ask for it (the page's own script asks
   * for its language's HTML, for what its reader may do). It is given the
   * event whole, hidden texts included: what it renders of them is its call.
   */
  decorate?: (event: ThreadEvent, variant: string) => Record<string, unknown>
  onError?: (err: unknown) => void
}

/** Close code for a socket that fell behind: reconnect with `since`. */
export const CLOSE_TOO_SLOW = 4008
/** Events read at a time to bring the channel up to date (one reading for all its sockets). */
const PULL_PAGE = 500
/**
 * Events read at a time for one socket's replay, which holds them while its
 * socket drains: a crowd of sockets that do not read holds a page each.
 */
const REPLAY_PAGE = 50
/**
 * Replay pages read from the database at once, the others waiting their
 * turn: a crowd reconnecting with `since` leaves the pool's other
 * connections to the staff's posts.
 */
const REPLAY_READS_AT_ONCE = 4
const REPLAY_READS_QUEUED = 100_000
const TEXT = { binary: false } as const

interface Subscriber {
  socket: LiveSocket
  /** '' for the plain contract frames; else the decoration asked for, e.g. 'fr'. */
  variant: string
  /** The last seq this socket was sent; it is sent seq + 1 and nothing else. */
  seq: number
  joined: boolean
  closed: boolean
}

interface Channel {
  threadId: number
  subscribers: Set<Subscriber>
  /** The highest seq dispatched, contiguous from the log. */
  seq: number
  ready: Promise<void>
  pulling: Promise<void> | null
  pullAgain: boolean
}

/**
 * Sockets per thread. Events come in from this process after commit and from
 * other instances' notifications; whatever their order, each socket receives
 * every seq once, in order: a gap is filled from the log, which is the truth.
 */
export class Hub {
  private readonly channels = new Map<number, Channel>()
  private readonly db: Kysely<Database>
  private readonly maxBuffered: number
  private readonly drainTimeoutMs: number
  private readonly decorate: HubOptions['decorate']
  private readonly onError: (err: unknown) => void
  private readonly notifyListeners: Array<(threadId: number, seq: number) => void> = []
  private readonly replayReads: Limiter = createLimiter(REPLAY_READS_AT_ONCE, REPLAY_READS_QUEUED)

  constructor (options: HubOptions) {
    this.db = options.db
    this.maxBuffered = options.maxBufferedBytes ?? 1024 * 1024
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000
    this.decorate = options.decorate
    this.onError = options.onError ?? (() => {})
  }

  get socketCount (): number {
    let count = 0
    for (const channel of this.channels.values()) count += channel.subscribers.size
    return count
  }

  /** The threads that have sockets, with the seq each has reached. */
  watched (): Map<number, number> {
    return new Map([...this.channels.values()].map((c) => [c.threadId, c.seq]))
  }

  /**
   * Adds a socket to a thread: it first receives every event after `since`
   * from the log (or, without `since`, nothing before now), then goes live.
   */
  async join (threadId: number, socket: LiveSocket, since: number | undefined, variant = ''): Promise<() => void> {
    const channel = this.channelFor(threadId)
    const subscriber: Subscriber = { socket, variant, seq: 0, joined: false, closed: false }
    channel.subscribers.add(subscriber)
    const leave = () => {
      subscriber.closed = true
      channel.subscribers.delete(subscriber)
      if (channel.subscribers.size === 0 && this.channels.get(threadId) === channel) this.channels.delete(threadId)
    }
    try {
      await channel.ready
      subscriber.seq = since ?? channel.seq
      // A client can have seen more than this instance has heard of yet.
      if (subscriber.seq > channel.seq) this.pull(channel)
      await this.catchUp(channel, subscriber)
    } catch (err) {
      leave()
      throw err
    }
    return leave
  }

  /** Events committed by this process, in any order. */
  publish (events: ThreadEvent[]): void {
    for (const event of events) {
      const channel = this.channels.get(event.threadId)
      if (channel === undefined) continue
      if (event.seq === channel.seq + 1) {
        channel.seq = event.seq
        this.dispatch(channel, event)
      } else if (event.seq > channel.seq) {
        this.pull(channel)
      }
    }
  }

  /** Called with every thread another instance (or this one) reports an event in, sockets or not. */
  onNotify (listener: (threadId: number, seq: number) => void): void {
    this.notifyListeners.push(listener)
  }

  /** Another instance committed up to `seq` in this thread: read what we lack from the log. */
  notify (threadId: number, seq: number): void {
    for (const listener of this.notifyListeners) listener(threadId, seq)
    const channel = this.channels.get(threadId)
    if (channel !== undefined && seq > channel.seq) this.pull(channel)
  }

  /** Closes every socket, e.g. with 1001 when the server goes away. */
  closeAll (code: number, reason: string): void {
    for (const channel of this.channels.values()) {
      for (const subscriber of channel.subscribers) subscriber.socket.close(code, reason)
    }
  }

  private channelFor (threadId: number): Channel {
    let channel = this.channels.get(threadId)
    if (channel === undefined) {
      const created: Channel = { threadId, subscribers: new Set(), seq: 0, ready: Promise.resolve(), pulling: null, pullAgain: false }
      created.ready = this.db.selectFrom('threads').select('last_seq').where('id', '=', threadId).executeTakeFirst()
        .then((row) => { created.seq = row?.last_seq ?? 0 })
      this.channels.set(threadId, created)
      channel = created
    }
    return channel
  }

  /** Sends a newly joined socket what it missed, up to the channel's seq, then marks it live. */
  private async catchUp (channel: Channel, subscriber: Subscriber): Promise<void> {
    while (subscriber.seq < channel.seq && !gone(subscriber)) {
      // A socket gone while its read waited its turn is not read for.
      const events = await this.replayReads.run(async () => gone(subscriber) ? [] : await eventsSince(this.db, channel.threadId, subscriber.seq, REPLAY_PAGE))
      if (events.length === 0) break
      for (const event of events) {
        await this.drained(subscriber)
        if (event.seq > channel.seq || gone(subscriber)) break
        subscriber.seq = event.seq
        subscriber.socket.send(this.frame(event, subscriber.variant, new Map()), TEXT)
      }
      if (events.at(-1)!.seq > channel.seq) this.pull(channel)
    }
    subscriber.joined = !subscriber.closed
  }

  // A long replay waits for the socket to drain before each frame: a client
  // that asks for the whole log and never reads gets a bounded buffer, then 4008.
  private async drained (subscriber: Subscriber): Promise<void> {
    const deadline = Date.now() + this.drainTimeoutMs
    while (subscriber.socket.bufferedAmount > this.maxBuffered / 2 && !gone(subscriber)) {
      if (Date.now() > deadline) {
        subscriber.closed = true
        subscriber.socket.close(CLOSE_TOO_SLOW, 'too slow, reconnect with since')
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  private pull (channel: Channel): void {
    if (channel.pulling !== null) {
      channel.pullAgain = true
      return
    }
    channel.pulling = (async () => {
      do {
        channel.pullAgain = false
        await channel.ready
        let events: ThreadEvent[]
        do {
          events = await eventsSince(this.db, channel.threadId, channel.seq, PULL_PAGE)
          for (const event of events) {
            if (event.seq !== channel.seq + 1) continue
            channel.seq = event.seq
            this.dispatch(channel, event)
          }
        } while (events.length === PULL_PAGE)
      } while (channel.pullAgain)
    })().catch(this.onError).finally(() => { channel.pulling = null })
  }

  private dispatch (channel: Channel, event: ThreadEvent): void {
    // Serialised and encoded once per variant; the same bytes go to every socket.
    const frames = new Map<string, Buffer>()
    for (const subscriber of channel.subscribers) {
      if (!subscriber.joined) continue
      this.send(subscriber, event, this.frame(event, subscriber.variant, frames))
    }
  }

  private frame (event: ThreadEvent, variant: string, cache: Map<string, Buffer>): Buffer {
    let frame = cache.get(variant)
    if (frame === undefined) {
      const reader = readerEvent(event)
      frame = Buffer.from(JSON.stringify(variant === '' || this.decorate === undefined ? reader : { ...reader, ...this.decorate(event, variant) }))
      cache.set(variant, frame)
    }
    return frame
  }

  private send (subscriber: Subscriber, event: ThreadEvent, frame: Buffer): void {
    if (event.seq <= subscriber.seq) return
    if (event.seq !== subscriber.seq + 1 || subscriber.socket.bufferedAmount > this.maxBuffered) {
      // Behind, or not reading: it reconnects with its last seq and replays from the log.
      subscriber.joined = false
      subscriber.closed = true
      subscriber.socket.close(CLOSE_TOO_SLOW, 'too slow, reconnect with since')
      return
    }
    subscriber.seq = event.seq
    subscriber.socket.send(frame, TEXT)
  }
}
