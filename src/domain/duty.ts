import { type Kysely, type Transaction, sql } from 'kysely'
import type { Database, Role, Shift } from '../db/database.ts'
import { type Actor, requireStaff } from './actors.ts'
import type { Deps } from './deps.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { HOUR_MS, dutyLapsesAt, shiftAt, shiftOfAuthor } from './shifts.ts'
import type { Post } from './views.ts'

/** One person on duty now. */
export interface OnDuty {
  userId: number
  name: string
  role: Role
  shift: Shift | null
  lead: boolean
  since: string
  /** When the check-in lapses, unless made again. */
  until: string
}

export interface DutyNow {
  /** Everyone checked in, the lead first, then by check-in time. */
  onDuty: OnDuty[]
  lead: OnDuty | null
}

/**
 * Duty changes queue up on the schedule's one row, so two people checking in
 * at once cannot both become the lead, nor both leave it empty.
 */
async function lockDuty (trx: Transaction<Database>): Promise<void> {
  await trx.selectFrom('shift_schedule').select('id').where('id', '=', 1).forUpdate().execute()
}

/**
 * Who is on duty now, and who leads; anyone may see it. A check-in that has
 * lapsed is gone; a lead's hands the lead on, as checking out does.
 */
export async function dutyNow (db: Kysely<Database> | Transaction<Database>, now: Date): Promise<DutyNow> {
  const rows = await db.selectFrom('duty')
    .innerJoin('users', 'users.id', 'duty.user_id')
    .select(['duty.user_id', 'users.name', 'users.role', 'duty.shift', 'duty.lead', 'duty.started_at', 'duty.lapses_at'])
    .where('duty.ended_at', 'is', null)
    .where('duty.lapses_at', '>', now)
    .orderBy('duty.lead', 'desc')
    .orderBy('duty.started_at')
    .orderBy('duty.id')
    .execute()
  const onDuty = rows.map((row) => ({
    userId: row.user_id,
    name: row.name,
    role: row.role,
    shift: row.shift,
    lead: row.lead,
    since: row.started_at.toISOString(),
    until: row.lapses_at.toISOString()
  }))
  const lead = onDuty.find((person) => person.lead) ?? onDuty[0] ?? null
  if (lead !== null) lead.lead = true
  return { onDuty, lead }
}

/**
 * Closes the check-ins that have lapsed, as of when they lapsed, in the
 * caller's transaction holding the duty lock; a lead among them is handed on,
 * unless `handOn` is false (the caller is taking the lead).
 */
async function closeLapsed (trx: Transaction<Database>, deps: Deps, now: Date, handOn = true): Promise<void> {
  const closed = await trx.updateTable('duty').set((eb) => ({ ended_at: eb.ref('lapses_at') }))
    .where('ended_at', 'is', null).where('lapses_at', '<=', now)
    .returning(['id', 'lead', 'lapses_at'])
    .execute()
  const leads = closed.filter((row) => row.lead)
  for (const row of leads) await endLead(trx, [row.id], row.lapses_at)
  if (leads.length > 0 && handOn) await passLead(trx, deps, now)
}

/** A check-in starts leading, at `at`. */
async function startLead (trx: Transaction<Database>, dutyId: number, at: Date): Promise<void> {
  await trx.insertInto('duty_leads').values({ duty_id: dutyId, started_at: at }).execute()
}

/** These check-ins stop leading, at `at`. */
async function endLead (trx: Transaction<Database>, dutyIds: number[], at: Date): Promise<void> {
  if (dutyIds.length === 0) return
  await trx.updateTable('duty_leads').set({ ended_at: at }).where('duty_id', 'in', dutyIds).where('ended_at', 'is', null).execute()
}

/**
 * Gives the lead, when nobody has it, to whoever has been on duty longest of
 * the shift working now or taking over within the hour (a lead who hands over
 * and leaves hands the lead to the incoming shift, not to a colleague about to
 * leave too); else to whoever has been on duty longest.
 */
async function passLead (trx: Transaction<Database>, deps: Deps, now: Date): Promise<void> {
  const taking = shiftAt(new Date(now.getTime() + HOUR_MS), deps.timeZone, deps.shiftHours)
  const next = await trx.selectFrom('duty').select('id').where('ended_at', 'is', null)
    .orderBy(sql`shift is not distinct from ${taking}`, 'desc').orderBy('started_at').orderBy('id').limit(1).executeTakeFirst()
  if (next === undefined) return
  await trx.updateTable('duty').set({ lead: true }).where('id', '=', next.id).execute()
  await startLead(trx, next.id, now)
}

/**
 * Staff check in. Whoever asks to lead takes the lead; otherwise the first
 * one in when nobody leads does. Checking in again keeps one on duty until
 * the end of the shift about to end next, and may take the lead.
 */
export async function checkIn (deps: Deps, actor: Actor | null, options: { lead?: boolean } = {}, idem?: IdempotencyKey): Promise<DutyNow> {
  const staff = requireStaff(actor)
  const duty = await deps.db.transaction().execute(async (trx) => await answerOnce(trx, staff.id, idem, 200, async () => {
    await lockDuty(trx)
    const now = deps.now()
    await closeLapsed(trx, deps, now, options.lead !== true)
    const lapsesAt = dutyLapsesAt(now, deps.timeZone, deps.shiftHours)
    const current = await trx.selectFrom('duty').select(['id', 'lead']).where('user_id', '=', staff.id).where('ended_at', 'is', null).executeTakeFirst()
    const someoneLeads = await trx.selectFrom('duty').select('id').where('ended_at', 'is', null).where('lead', '=', true).executeTakeFirst()
    const lead = options.lead === true || someoneLeads === undefined || current?.lead === true
    if (lead && options.lead === true) {
      const others = await trx.updateTable('duty').set({ lead: false })
        .where('ended_at', 'is', null).where('lead', '=', true).where('user_id', '<>', staff.id)
        .returning('id').execute()
      await endLead(trx, others.map((row) => row.id), now)
    }
    if (current === undefined) {
      const row = await trx.insertInto('duty').values({
        user_id: staff.id,
        shift: shiftOfAuthor(staff, now, deps.timeZone, deps.shiftHours, 'check-in'),
        lead,
        started_at: now,
        lapses_at: lapsesAt
      }).returning('id').executeTakeFirstOrThrow()
      if (lead) await startLead(trx, row.id, now)
    } else {
      await trx.updateTable('duty').set({ lead, lapses_at: lapsesAt }).where('id', '=', current.id).execute()
      if (lead && !current.lead) await startLead(trx, current.id, now)
    }
    return await dutyNow(trx, now)
  }))
  deps.dutyChanged()
  return duty
}

/** Staff check out; a lead who leaves hands the lead on (`passLead`). */
export async function checkOut (deps: Deps, actor: Actor | null, idem?: IdempotencyKey): Promise<DutyNow> {
  const staff = requireStaff(actor)
  const duty = await deps.db.transaction().execute(async (trx) => await answerOnce(trx, staff.id, idem, 200, async () => {
    const now = deps.now()
    await endDuty(trx, deps, staff.id)
    return await dutyNow(trx, now)
  }))
  deps.dutyChanged()
  return duty
}

/** Ends a user's check-in, if they have one, in the caller's transaction; says whether they had. */
export async function endDuty (trx: Transaction<Database>, deps: Deps, userId: number): Promise<boolean> {
  const now = deps.now()
  await lockDuty(trx)
  await closeLapsed(trx, deps, now)
  const closed = await trx.updateTable('duty').set({ ended_at: now })
    .where('user_id', '=', userId).where('ended_at', 'is', null)
    .returning(['id', 'lead'])
    .executeTakeFirst()
  if (closed?.lead === true) {
    await endLead(trx, [closed.id], now)
    await passLead(trx, deps, now)
  }
  return closed !== undefined
}

/** How long after a handover the incoming lead may check in and still be named as the one who took over. */
const TAKE_OVER_WINDOW_MS = HOUR_MS

/**
 * For each handover among `posts`, the name of the incoming shift's lead: who
 * led that shift at the handover, or took the lead within the hour after. As
 * it was then: a lead taken later names nobody new on an earlier handover.
 */
export async function handoverLeads (db: Kysely<Database>, posts: Post[]): Promise<Record<number, string>> {
  const handovers = posts.filter((post) => post.kind === 'handover' && post.handoverTo !== null)
  if (handovers.length === 0) return {}
  const first = Math.min(...handovers.map((post) => Date.parse(post.createdAt)))
  const last = Math.max(...handovers.map((post) => Date.parse(post.createdAt)))
  const leads = await db.selectFrom('duty_leads')
    .innerJoin('duty', 'duty.id', 'duty_leads.duty_id')
    .innerJoin('users', 'users.id', 'duty.user_id')
    .select(['users.name', 'duty.shift', 'duty_leads.started_at', 'duty_leads.ended_at', 'duty.ended_at as duty_ended_at', 'duty.lapses_at'])
    .where('duty_leads.started_at', '<=', new Date(last + TAKE_OVER_WINDOW_MS))
    .where((eb) => eb.or([eb('duty_leads.ended_at', 'is', null), eb('duty_leads.ended_at', '>', new Date(first))]))
    .orderBy('duty_leads.started_at')
    .execute()
  const out: Record<number, string> = {}
  for (const post of handovers) {
    const at = Date.parse(post.createdAt)
    // A spell still open ends with its check-in (a lapse not yet closed).
    const lead = leads.find((row) => row.shift === post.handoverTo &&
      row.started_at.getTime() <= at + TAKE_OVER_WINDOW_MS &&
      (row.ended_at ?? row.duty_ended_at ?? row.lapses_at).getTime() > at)
    if (lead !== undefined) out[post.id] = lead.name
  }
  return out
}
