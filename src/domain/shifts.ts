import type { Kysely } from 'kysely'
import type { Database, Shift } from '../db/database.ts'
import { type Actor, requireAdmin } from './actors.ts'
import { recordAudit } from './audit.ts'
import type { Deps } from './deps.ts'
import { AppError, badRequest } from './errors.ts'

/** Hour (0-23, in the organisation's time zone) at which each shift starts. */
export interface ShiftHours { day: number, evening: number, night: number }

export const DEFAULT_SHIFT_HOURS: ShiftHours = { day: 7, evening: 15, night: 23 }

export const SHIFTS: readonly Shift[] = ['day', 'evening', 'night']

// Building an Intl formatter costs far more than using one: one per time zone.
const hourFormats = new Map<string, Intl.DateTimeFormat>()
function hourIn (date: Date, timeZone: string): number {
  let format = hourFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' })
    hourFormats.set(timeZone, format)
  }
  return Number(format.format(date))
}

// Minutes past the hour, for the zones whose offset is not whole hours.
const minuteFormats = new Map<string, Intl.DateTimeFormat>()
function minuteIn (date: Date, timeZone: string): number {
  let format = minuteFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, minute: 'numeric' })
    minuteFormats.set(timeZone, format)
  }
  return Number(format.format(date))
}

export const HOUR_MS = 60 * 60 * 1000
const DAY_MINUTES = 24 * 60

/** The minutes since midnight the clock of `timeZone` shows at `date`. */
const minutesOfDay = (date: Date, timeZone: string): number => hourIn(date, timeZone) * 60 + minuteIn(date, timeZone)

/**
 * The next time the clock of `timeZone` shows `hour`:`minute`, after `now`:
 * today, or tomorrow once it has passed ("next update by 07:30", said at 23:00).
 */
export function nextClockTime (now: Date, timeZone: string, hour: number, minute: number): Date {
  const wanted = hour * 60 + minute
  const ahead = (wanted - minutesOfDay(now, timeZone) + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES
  const at = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + ahead * 60_000)
  // A change of the clocks (summer time) in between moves it by the change.
  const drift = wanted - minutesOfDay(at, timeZone)
  if (drift === 0) return at
  const corrected = new Date(at.getTime() + (((drift + DAY_MINUTES / 2) % DAY_MINUTES + DAY_MINUTES) % DAY_MINUTES - DAY_MINUTES / 2) * 60_000)
  // A time the clocks skip (02:30, the night summer time begins) never
  // shows: the promise is for the same time after the change, as the clocks say it.
  return minutesOfDay(corrected, timeZone) === wanted && corrected > now ? corrected : at
}

/**
 * How many minutes ago the clock of `timeZone` last showed `hour`:`minute`,
 * by that clock (0 to 1439: 0 when it shows it now), whatever change of the
 * clocks came in between.
 */
export function minutesSinceClockTime (now: Date, timeZone: string, hour: number, minute: number): number {
  return (minutesOfDay(now, timeZone) - (hour * 60 + minute) + DAY_MINUTES) % DAY_MINUTES
}

/** The shift on duty at `date`, by the clock of `timeZone`. */
export function shiftAt (date: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS): Shift {
  const hour = hourIn(date, timeZone)
  const starts = SHIFTS.map((shift) => ({ shift, start: hours[shift] })).sort((a, b) => a.start - b.start)
  // The last shift to have started today; before the first start, yesterday's last one.
  let current = starts[starts.length - 1]!.shift
  for (const { shift, start } of starts) if (hour >= start) current = shift
  return current
}

export interface ShiftChange { at: Date, shift: Shift }

// The same for every moment of an hour: worked out once an hour per schedule.
const changesMade = new Map<string, ShiftChange[]>()

/** The next three times a shift starts after the hour `from` is in: a day's worth. */
export function shiftChanges (from: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS): ShiftChange[] {
  const hourStart = Math.floor(from.getTime() / 60_000) * 60_000 - minuteIn(from, timeZone) * 60_000
  const key = `${timeZone}|${hours.day}|${hours.evening}|${hours.night}|${hourStart}`
  let changes = changesMade.get(key)
  if (changes !== undefined) return changes
  changes = []
  // Two days of hours: a day's three starts, whatever a change of summer time skips.
  for (let k = 1; k <= 48 && changes.length < SHIFTS.length; k++) {
    const at = new Date(hourStart + k * HOUR_MS)
    const shift = SHIFTS.find((candidate) => hours[candidate] === hourIn(at, timeZone))
    // An hour the clock goes through twice starts its shift once.
    if (shift !== undefined && shiftAt(new Date(at.getTime() - 1), timeZone, hours) !== shift) changes.push({ at, shift })
  }
  if (changesMade.size >= 64) changesMade.clear()
  changesMade.set(key, changes)
  return changes
}

/**
 * The shift on duty at `now`, with the next changes as `shift@ISO` words: a
 * page left open, cached or not, turns to the next shift by itself.
 */
export function shiftOnDuty (now: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS): { shift: Shift, changes: string } {
  const changes = shiftChanges(now, timeZone, hours).map((change) => `${change.shift}@${change.at.toISOString()}`).join(' ')
  return { shift: shiftAt(now, timeZone, hours), changes }
}

/**
 * What a staff member's act is stamped with. A technician's own shift; for
 * moderators and admins, the shift of the clock, read so that their acts near
 * a change land where they belong: a handover in the hour after a change
 * closes the shift that just ended, and a check-in in the hour before one
 * opens the shift about to start. Customers have none.
 */
export function shiftOfAuthor (author: Actor, now: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS, act: 'post' | 'handover' | 'check-in' = 'post'): Shift | null {
  if (author.role === 'customer') return null
  if (author.role === 'technician' && author.shift !== null) return author.shift
  const lean = act === 'handover' ? -HOUR_MS : act === 'check-in' ? HOUR_MS : 0
  return shiftAt(new Date(now.getTime() + lean), timeZone, hours)
}

/**
 * When a check-in made at `now` lapses if it is not made again: an hour
 * after the end of the shift it opens (the hour for the handover), so a
 * forgotten check-out does not keep someone on duty, and taking the alerts,
 * for days.
 */
export function dutyLapsesAt (now: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS): Date {
  const end = shiftChanges(new Date(now.getTime() + HOUR_MS), timeZone, hours)[0]
  return new Date((end?.at.getTime() ?? now.getTime() + 12 * HOUR_MS) + HOUR_MS)
}

/** The shift that takes over from `shift`, in the order of the schedule's start hours. */
export function nextShift (shift: Shift, hours: ShiftHours = DEFAULT_SHIFT_HOURS): Shift {
  const order = [...SHIFTS].sort((a, b) => hours[a] - hours[b])
  return order[(order.indexOf(shift) + 1) % order.length]!
}

export function validateShiftHours (input: Partial<Record<keyof ShiftHours, unknown>>): ShiftHours {
  const hours = {} as ShiftHours
  for (const shift of SHIFTS) {
    const value = input[shift]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 23) {
      throw badRequest('invalid_shift_hours', 'Each shift starts at a whole hour from 0 to 23.')
    }
    hours[shift] = value
  }
  if (new Set(SHIFTS.map((shift) => hours[shift])).size !== SHIFTS.length) {
    throw badRequest('invalid_shift_hours', 'Two shifts cannot start at the same hour.')
  }
  // Around the clock from the day shift's start, the evening comes before the
  // night: an evening at 6 (meant for 16) would make a day shift of 16 hours.
  const after = (shift: Shift) => (hours[shift] - hours.day + 24) % 24
  if (after('evening') > after('night')) {
    throw new AppError(400, 'invalid_shift_hours', 'The shifts follow one another around the clock: day, then evening, then night.', undefined, 'errors.invalid_shift_hours.order')
  }
  return hours
}

/** The schedule as stored. */
export async function loadShiftHours (db: Kysely<Database>): Promise<ShiftHours> {
  const row = await db.selectFrom('shift_schedule').selectAll().where('id', '=', 1).executeTakeFirst()
  if (row === undefined) return DEFAULT_SHIFT_HOURS
  return { day: row.day_start, evening: row.evening_start, night: row.night_start }
}

export interface ShiftSchedule extends ShiftHours {
  /** The organisation's time zone the hours are read in. */
  timeZone: string
  /** The shift on duty now. */
  current: Shift
}

/** The schedule and the shift on duty now; anyone may read it. */
export function shiftSchedule (deps: Deps): ShiftSchedule {
  const hours = deps.shiftHours
  return { ...hours, timeZone: deps.timeZone, current: shiftAt(deps.now(), deps.timeZone, hours) }
}

/** Admins set the hour each shift starts; every change is audited, and new posts follow it at once. */
export async function updateShiftHours (deps: Deps, actor: Actor | null, input: Partial<Record<keyof ShiftHours, unknown>>): Promise<ShiftSchedule> {
  const admin = requireAdmin(actor)
  const hours = validateShiftHours(input)
  const changed = await deps.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('shift_schedule').selectAll().where('id', '=', 1).forUpdate().executeTakeFirstOrThrow()
    const previous = { day: before.day_start, evening: before.evening_start, night: before.night_start }
    // The form saved as it was changes nothing, and the log says nothing of it.
    if (SHIFTS.every((shift) => previous[shift] === hours[shift])) return false
    await trx.updateTable('shift_schedule')
      .set({ day_start: hours.day, evening_start: hours.evening, night_start: hours.night, updated_at: deps.now() })
      .where('id', '=', 1)
      .execute()
    await recordAudit(trx, admin, { action: 'shifts.update', before: previous, after: hours })
    return true
  })
  // Saved unchanged, it is still the schedule in force: this instance may not have read it yet.
  deps.shiftHours = hours
  if (changed) deps.dutyChanged()
  return shiftSchedule(deps)
}
