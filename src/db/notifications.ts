import pg from 'pg'
import { type DatabaseHandle, failuresOnce } from './connect.ts'

/** What the triggers announce: a thread's new event (`threadId:seq`), and a change to who someone is signed in as (their user id: `migrations/20261206120000_auth_notify.ts`). */
export const EVENTS_CHANNEL = 'sitrep_events'
export const AUTH_CHANNEL = 'sitrep_auth'
const CHANNELS = [EVENTS_CHANNEL, AUTH_CHANNEL] as const

type Handler = (payload: string) => void

/**
 * How often the connection is asked whether it still answers, and how long
 * it has to: a connection can die without a word (a server frozen, a network
 * cut in two, a firewall forgetting it), and would seem to listen forever.
 */
export interface Heartbeat { everyMs: number, waitMs: number }
const HEARTBEAT: Heartbeat = { everyMs: 5_000, waitMs: 5_000 }
/** Its name in pg_stat_activity, for an operator looking for it. */
export const LISTEN_APPLICATION_NAME = 'sitrep-listen'

/**
 * One LISTEN connection per instance for what PostgreSQL's triggers announce
 * at commit (events, changes to who is signed in), reconnected with a backoff
 * when it is lost. Whoever relies on hearing everything watches `listening`:
 * while the connection is down, notifications are lost, and on its return
 * (`onListening`) they must read again what they hold.
 */
export class Notifications {
  private client: pg.Client | null = null
  private retry: NodeJS.Timeout | null = null
  private stopped = false
  private backoffMs = 250
  private readonly handlers = new Map<string, Handler[]>()
  private readonly listeningHandlers: Array<() => void> = []
  private readonly lostHandlers: Array<() => void> = []
  private unlistenEmbedded: (() => void) | null = null

  /** On the database the instance uses: its server's URL, or the embedded database itself. */
  constructor (
    private readonly database: Pick<DatabaseHandle, 'url' | 'pglite'>,
    log: { warn: (obj: object, msg: string) => void, info: (msg: string) => void },
    private readonly heartbeat: Heartbeat = HEARTBEAT
  ) {
    this.hearing = failuresOnce(log, 'hear the other instances through the database (reconnecting)')
  }

  private readonly hearing: ReturnType<typeof failuresOnce>

  /** Whether every notification committed now will be heard. */
  get listening (): boolean {
    return this.unlistenEmbedded !== null || this.client !== null
  }

  on (channel: typeof CHANNELS[number], handler: Handler): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler])
  }

  /** A change to who someone is signed in as (`AUTH_CHANNEL`): their user id, or null for anyone's (a payload not understood). */
  onUserChanged (handler: (userId: number | null) => void): void {
    this.on(AUTH_CHANNEL, (payload) => {
      const userId = Number(payload)
      handler(Number.isInteger(userId) ? userId : null)
    })
  }

  /** Called each time listening starts again after a loss. */
  onListening (handler: () => void): void {
    this.listeningHandlers.push(handler)
  }

  /** Called when the connection is lost: what is heard from now on may have gaps. */
  onLost (handler: () => void): void {
    this.lostHandlers.push(handler)
  }

  async start (): Promise<void> {
    const embedded = this.database.pglite
    if (embedded !== undefined) {
      // One process: the embedded database tells it before the committing
      // query returns. Its own events it already has: only the changes to
      // who is signed in, made by any means, are worth hearing.
      const off = embedded.onNotification((channel, payload) => this.dispatch(channel, payload))
      await embedded.exec(`listen ${AUTH_CHANNEL}`)
      this.unlistenEmbedded = off
      return
    }
    if (this.database.url !== undefined) await this.listen()
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.retry !== null) clearTimeout(this.retry)
    this.unlistenEmbedded?.()
    this.unlistenEmbedded = null
    const client = this.client
    this.client = null
    await client?.end().catch(() => {})
  }

  private dispatch (channel: string, payload: string): void {
    for (const handler of this.handlers.get(channel) ?? []) handler(payload)
  }

  private async listen (): Promise<void> {
    // Neither connecting nor LISTEN may hang on a server gone silent: each is given up in time, and tried again.
    const client = new pg.Client({
      connectionString: this.database.url,
      application_name: LISTEN_APPLICATION_NAME,
      connectionTimeoutMillis: 5_000,
      query_timeout: this.heartbeat.waitMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000
    })
    client.on('notification', (message) => this.dispatch(message.channel, message.payload ?? ''))
    client.on('error', (err) => this.reconnect(client, err))
    client.on('end', () => this.reconnect(client, new Error('connection ended')))
    try {
      await client.connect()
      await client.query(CHANNELS.map((channel) => `listen ${channel}`).join('; '))
      if (this.stopped) {
        await client.end().catch(() => {})
        return
      }
      this.client = client
      this.backoffMs = 250
      this.hearing.worked()
      this.watch(client)
      for (const handler of this.listeningHandlers) handler()
    } catch (err) {
      this.reconnect(client, err as Error)
    }
  }

  /** Asks the connection something now and then: one that does not answer in time is lost. */
  private watch (client: pg.Client): void {
    const timer = setInterval(() => {
      if (this.client !== client) {
        clearInterval(timer)
        return
      }
      // Given up after `waitMs` (the client's query_timeout), or failed with the connection.
      client.query('select 1').catch((err: Error) => {
        if (this.client === client) this.reconnect(client, err)
      })
    }, this.heartbeat.everyMs)
    timer.unref()
  }

  private reconnect (client: pg.Client, err: Error): void {
    if (this.client === client) {
      this.client = null
      for (const handler of this.lostHandlers) handler()
    }
    if (this.stopped || this.retry !== null) return
    client.removeAllListeners()
    client.on('error', () => {})
    void client.end().catch(() => {})
    this.hearing.failed(err)
    this.retry = setTimeout(() => {
      this.retry = null
      void this.listen()
    }, this.backoffMs)
    this.retry.unref()
    // Soon back once the database is: pages say they are as they were until then.
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000)
  }
}
