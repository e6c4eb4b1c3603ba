import type { Kysely } from 'kysely'
import pg from 'pg'
import type { Database } from '../db/database.ts'
import type { Hub } from './hub.ts'

export const EVENTS_CHANNEL = 'sitrep_events'

export interface RelayOptions {
  db: Kysely<Database>
  hub: Hub
  /** The server to LISTEN on; undefined (embedded database) means one process, nothing to relay. */
  databaseUrl: string | undefined
  /** How often the log is checked for events whose notification was lost. */
  checkEveryMs?: number
  log: { warn: (obj: object, msg: string) => void }
}

/**
 * Brings other instances' events to this one's sockets: a LISTEN connection
 * for speed, and a periodic look at the log for whatever a dropped connection
 * or a coalesced notification missed.
 */
export class Relay {
  private client: pg.Client | null = null
  private timer: NodeJS.Timeout | null = null
  private retry: NodeJS.Timeout | null = null
  private stopped = false
  private backoffMs = 250

  constructor (private readonly options: RelayOptions) {}

  async start (): Promise<void> {
    this.timer = setInterval(() => { void this.checkLog() }, this.options.checkEveryMs ?? 5000)
    this.timer.unref()
    if (this.options.databaseUrl !== undefined) await this.listen()
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearInterval(this.timer)
    if (this.retry !== null) clearTimeout(this.retry)
    await this.client?.end().catch(() => {})
    this.client = null
  }

  private async listen (): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl })
    client.on('notification', (message) => {
      const [threadId, seq] = (message.payload ?? '').split(':').map(Number)
      if (Number.isInteger(threadId) && Number.isInteger(seq)) this.options.hub.notify(threadId!, seq!)
    })
    client.on('error', (err) => this.reconnect(client, err))
    client.on('end', () => this.reconnect(client, new Error('connection ended')))
    try {
      await client.connect()
      await client.query(`listen ${EVENTS_CHANNEL}`)
      this.client = client
      this.backoffMs = 250
      // Whatever was committed while we were not listening.
      await this.checkLog()
    } catch (err) {
      this.reconnect(client, err as Error)
    }
  }

  private reconnect (client: pg.Client, err: Error): void {
    if (this.stopped || this.retry !== null) return
    if (this.client === client) this.client = null
    client.removeAllListeners()
    client.on('error', () => {})
    void client.end().catch(() => {})
    this.options.log.warn({ err: err.message, retryInMs: this.backoffMs }, 'live relay lost its database connection')
    this.retry = setTimeout(() => {
      this.retry = null
      void this.listen()
    }, this.backoffMs)
    this.retry.unref()
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000)
  }

  private async checkLog (): Promise<void> {
    const watched = this.options.hub.watched()
    if (watched.size === 0) return
    try {
      const rows = await this.options.db.selectFrom('threads').select(['id', 'last_seq'])
        .where('id', 'in', [...watched.keys()])
        .execute()
      for (const row of rows) {
        if (row.last_seq > (watched.get(row.id) ?? 0)) this.options.hub.notify(row.id, row.last_seq)
      }
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'live relay could not read the log')
    }
  }
}
