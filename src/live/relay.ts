import type { Kysely } from 'kysely'
import { failuresOnce } from '../db/connect.ts'
import type { Database } from '../db/database.ts'
import { EVENTS_CHANNEL, type Notifications } from '../db/notifications.ts'
import type { Hub } from './hub.ts'

export interface RelayOptions {
  db: Kysely<Database>
  hub: Hub
  /** The instance's LISTEN connection. */
  notifications: Notifications
  /** How often the log is checked for events whose notification was lost. */
  checkEveryMs?: number
  log: { warn: (obj: object, msg: string) => void, info: (msg: string) => void }
}

/**
 * Brings other instances' events to this one's sockets: their notifications
 * for speed, and a periodic look at the log for whatever a dropped connection
 * or a coalesced notification missed.
 */
export class Relay {
  private timer: NodeJS.Timeout | null = null
  private readonly reading: ReturnType<typeof failuresOnce>

  constructor (private readonly options: RelayOptions) {
    this.reading = failuresOnce(options.log, 'read the event log for the live relay')
    options.notifications.on(EVENTS_CHANNEL, (payload) => {
      const [threadId, seq] = payload.split(':').map(Number)
      if (Number.isInteger(threadId) && Number.isInteger(seq)) this.options.hub.notify(threadId!, seq!)
    })
    // Whatever was committed while we were not listening.
    options.notifications.onListening(() => { void this.checkLog() })
  }

  start (): void {
    this.timer = setInterval(() => { void this.checkLog() }, this.options.checkEveryMs ?? 5000)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
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
      this.reading.worked()
    } catch (err) {
      this.reading.failed(err)
    }
  }
}
