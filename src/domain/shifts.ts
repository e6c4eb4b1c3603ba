import type { Kysely } from 'kysely'
import type { Database, Shift } from '../db/database.ts'
import { type Actor, requireAdmin } from './actors.ts'
import { recordAudit } from './audit.ts'
import type { Deps } from './deps.ts'
import { badRequest } from './errors.ts'

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

/** The shift on duty at `date`, by the clock of `timeZone`. */
export function shiftAt (date: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS): Shift {
  const hour = hourIn(date, timeZone)
  const starts = SHIFTS.map((shift) => ({ shift, start: hours[shift] })).sort((a, b) => a.start - b.start)
  // The last shift to have started today; before the first start, yesterday's last one.
  let current = starts[starts.length - 1]!.shift
  for (const { shift, start } of starts) if (hour >= start) current = shift
  return current
}

/**
 * The shift a staff post is stamped with: a technician's own shift, or for
 * moderators and admins the one on duty when they write. Customers have none.
 */
export function shiftOfAuthor (author: Actor, now: Date, timeZone: string, hours: ShiftHours = DEFAULT_SHIFT_HOURS): Shift | null {
  if (author.role === 'customer') return null
  if (author.role === 'technician' && author.shift !== null) return author.shift
  return shiftAt(now, timeZone, hours)
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
  await deps.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('shift_schedule').selectAll().where('id', '=', 1).forUpdate().executeTakeFirstOrThrow()
    const previous = { day: before.day_start, evening: before.evening_start, night: before.night_start }
    await trx.updateTable('shift_schedule')
      .set({ day_start: hours.day, evening_start: hours.evening, night_start: hours.night, updated_at: deps.now() })
      .where('id', '=', 1)
      .execute()
    await recordAudit(trx, admin, { action: 'shifts.update', before: previous, after: hours })
  })
  deps.shiftHours = hours
  deps.dutyChanged()
  return shiftSchedule(deps)
}
