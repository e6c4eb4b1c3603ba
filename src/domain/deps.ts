import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import type { ThreadEvent } from '../live/events.ts'
import { type PostingLimit, POSTING_LIMITS } from './limits.ts'
import { type ShiftHours, DEFAULT_SHIFT_HOURS } from './shifts.ts'

/** What the domain needs from the outside world, injected so tests control it. */
export interface Deps {
  db: Kysely<Database>
  now: () => Date
  /** The organisation's time zone (TZ_DISPLAY), for shifts. */
  timeZone: string
  shiftHours: ShiftHours
  /** How many comments a customer may post across all threads, per window. */
  postingLimits: readonly PostingLimit[]
  /** Called with a transaction's events once it has committed. */
  publish: (events: ThreadEvent[]) => void
  /** Called once a change to who is on duty, or to the shift schedule, has committed (pages show both). */
  dutyChanged: () => void
  /** Called once a user's act that only their own pages show (a flag) has committed. */
  readerActed: (userId: number) => void
}

export function makeDeps (db: Kysely<Database>, options: Partial<Omit<Deps, 'db'>> = {}): Deps {
  return {
    db,
    now: options.now ?? (() => new Date()),
    timeZone: options.timeZone ?? 'UTC',
    shiftHours: options.shiftHours ?? DEFAULT_SHIFT_HOURS,
    postingLimits: options.postingLimits ?? POSTING_LIMITS,
    publish: options.publish ?? (() => {}),
    dutyChanged: options.dutyChanged ?? (() => {}),
    readerActed: options.readerActed ?? (() => {})
  }
}

/**
 * The same deps, with `published` told of each transaction's events too, once
 * they are published: a request learns what it wrote, with no context carried
 * through every asynchronous call of the process.
 */
export function withPublished (deps: Deps, published: (events: ThreadEvent[]) => void): Deps {
  return {
    ...deps,
    // The schedule in force is the instance's, read and set on `deps` itself (`updateShiftHours` sets it).
    get shiftHours () { return deps.shiftHours },
    set shiftHours (hours) { deps.shiftHours = hours },
    publish: (events) => {
      deps.publish(events)
      published(events)
    }
  }
}

/**
 * Runs `work` in one transaction; the events it emits are published only after
 * the commit, so no reader ever sees a change that was rolled back.
 */
export async function commitThenPublish<T> (
  deps: Deps,
  work: (trx: Transaction<Database>, emit: (event: ThreadEvent) => void) => Promise<T>
): Promise<T> {
  const events: ThreadEvent[] = []
  const result = await deps.db.transaction().execute((trx) => work(trx, (event) => { events.push(event) }))
  if (events.length > 0) deps.publish(events)
  return result
}
