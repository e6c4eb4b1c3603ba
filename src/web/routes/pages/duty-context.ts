import type { Shift } from '../../../db/database.ts'
import { type Actor, isStaff } from '../../../domain/actors.ts'
import type { Deps } from '../../../domain/deps.ts'
import type { DutyNow } from '../../../domain/duty.ts'
import { dutyLapsesAt } from '../../../domain/shifts.ts'

export interface DutyOnPage extends DutyNow {
  /**
   * For staff: whether they are checked in, whether they lead, until when,
   * and whether checking in again would keep them on longer.
   */
  me: { onDuty: boolean, lead: boolean, until: string | null, canStayOn: boolean } | null
  /** The incoming lead's name of each handover shown, by post id. */
  handoverLeads: Record<number, string>
  /** The shift of the hour, named to readers when nobody has checked in; where the page does not name it already. */
  shiftNow?: Shift
}

/**
 * Who is on duty, for the thread page and the incident list; with the
 * incoming leads of the handovers shown, which the caller knows.
 */
export function dutyOnPage (duty: DutyNow, actor: Actor | null, deps: Deps, leads: Record<number, string> = {}): DutyOnPage {
  const mine = actor === null ? undefined : duty.onDuty.find((person) => person.userId === actor.id)
  const renewed = mine === undefined ? 0 : dutyLapsesAt(deps.now(), deps.timeZone, deps.shiftHours).getTime()
  return {
    ...duty,
    me: isStaff(actor)
      ? { onDuty: mine !== undefined, lead: mine?.lead === true, until: mine?.until ?? null, canStayOn: mine !== undefined && renewed > Date.parse(mine.until) }
      : null,
    handoverLeads: leads
  }
}
