import { type Actor, isStaff } from '../../../domain/actors.ts'
import type { DutyNow } from '../../../domain/duty.ts'

export interface DutyOnPage extends DutyNow {
  /** For staff: whether they are checked in, and whether they lead. */
  me: { onDuty: boolean, lead: boolean } | null
  /** The incoming lead's name of each handover shown, by post id. */
  handoverLeads: Record<number, string>
}

/**
 * Who is on duty, for the thread page and the incident list; with the
 * incoming leads of the handovers shown, which the caller knows.
 */
export function dutyOnPage (duty: DutyNow, actor: Actor | null, leads: Record<number, string> = {}): DutyOnPage {
  const mine = actor === null ? undefined : duty.onDuty.find((person) => person.userId === actor.id)
  return {
    ...duty,
    me: isStaff(actor) ? { onDuty: mine !== undefined, lead: mine?.lead === true } : null,
    handoverLeads: leads
  }
}
