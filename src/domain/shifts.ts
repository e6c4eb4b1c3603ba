import type { Shift } from '../db/database.ts'
import type { Actor } from './actors.ts'

/** Hour (0-23, in the organisation's time zone) at which each shift starts. */
export interface ShiftHours { day: number, evening: number, night: number }

export const DEFAULT_SHIFT_HOURS: ShiftHours = { day: 7, evening: 15, night: 23 }

export const SHIFTS: readonly Shift[] = ['day', 'evening', 'night']

function hourIn (date: Date, timeZone: string): number {
  const hour = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(date)
  return Number(hour)
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
