import type { Kysely, Transaction } from 'kysely'
import type { Database, Role, Shift } from '../db/database.ts'
import { type Actor, requireStaff } from './actors.ts'
import type { Deps } from './deps.ts'
import { shiftOfAuthor } from './shifts.ts'
import type { Post } from './views.ts'

/** One person on duty now. */
export interface OnDuty {
  userId: number
  name: string
  role: Role
  shift: Shift | null
  lead: boolean
  since: string
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

/** Who is on duty now, and who leads; anyone may see it. */
export async function dutyNow (db: Kysely<Database> | Transaction<Database>): Promise<DutyNow> {
  const rows = await db.selectFrom('duty')
    .innerJoin('users', 'users.id', 'duty.user_id')
    .select(['duty.user_id', 'users.name', 'users.role', 'duty.shift', 'duty.lead', 'duty.started_at'])
    .where('duty.ended_at', 'is', null)
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
    since: row.started_at.toISOString()
  }))
  return { onDuty, lead: onDuty.find((person) => person.lead) ?? null }
}

/**
 * Staff check in. Whoever asks to lead takes the lead; otherwise the first
 * one in when nobody leads does. Checking in again only changes the lead.
 */
export async function checkIn (deps: Deps, actor: Actor | null, options: { lead?: boolean } = {}): Promise<DutyNow> {
  const staff = requireStaff(actor)
  const duty = await deps.db.transaction().execute(async (trx) => {
    await lockDuty(trx)
    const now = deps.now()
    const current = await trx.selectFrom('duty').select(['id', 'lead']).where('user_id', '=', staff.id).where('ended_at', 'is', null).executeTakeFirst()
    const someoneLeads = await trx.selectFrom('duty').select('id').where('ended_at', 'is', null).where('lead', '=', true).executeTakeFirst()
    const lead = options.lead === true || someoneLeads === undefined || current?.lead === true
    if (lead && options.lead === true) {
      await trx.updateTable('duty').set({ lead: false }).where('ended_at', 'is', null).where('lead', '=', true).where('user_id', '<>', staff.id).execute()
    }
    if (current === undefined) {
      await trx.insertInto('duty').values({
        user_id: staff.id,
        shift: shiftOfAuthor(staff, now, deps.timeZone, deps.shiftHours),
        lead,
        started_at: now
      }).execute()
    } else if (lead !== current.lead) {
      await trx.updateTable('duty').set({ lead }).where('id', '=', current.id).execute()
    }
    return await dutyNow(trx)
  })
  deps.dutyChanged()
  return duty
}

/** Staff check out; a lead who leaves hands the lead to whoever has been on duty longest. */
export async function checkOut (deps: Deps, actor: Actor | null): Promise<DutyNow> {
  const staff = requireStaff(actor)
  const duty = await deps.db.transaction().execute(async (trx) => {
    await endDuty(trx, staff.id, deps.now())
    return await dutyNow(trx)
  })
  deps.dutyChanged()
  return duty
}

/** Ends a user's check-in, if they have one, in the caller's transaction; says whether they had. */
export async function endDuty (trx: Transaction<Database>, userId: number, now: Date): Promise<boolean> {
  await lockDuty(trx)
  const closed = await trx.updateTable('duty').set({ ended_at: now })
    .where('user_id', '=', userId).where('ended_at', 'is', null)
    .returning('lead')
    .executeTakeFirst()
  if (closed?.lead === true) {
    const next = await trx.selectFrom('duty').select('id').where('ended_at', 'is', null)
      .orderBy('started_at').orderBy('id').limit(1).executeTakeFirst()
    if (next !== undefined) await trx.updateTable('duty').set({ lead: true }).where('id', '=', next.id).execute()
  }
  return closed !== undefined
}

/** How long after a handover the incoming lead may check in and still be named as the one who took over. */
const TAKE_OVER_WINDOW_MS = 60 * 60 * 1000

/**
 * For each handover among `posts`, the name of the incoming shift's lead: the
 * lead of that shift on duty at the handover, or checking in within the hour after.
 */
export async function handoverLeads (db: Kysely<Database>, posts: Post[]): Promise<Record<number, string>> {
  const handovers = posts.filter((post) => post.kind === 'handover' && post.handoverTo !== null)
  if (handovers.length === 0) return {}
  const first = Math.min(...handovers.map((post) => Date.parse(post.createdAt)))
  const leads = await db.selectFrom('duty')
    .innerJoin('users', 'users.id', 'duty.user_id')
    .select(['users.name', 'duty.shift', 'duty.started_at', 'duty.ended_at'])
    .where('duty.lead', '=', true)
    .where((eb) => eb.or([eb('duty.ended_at', 'is', null), eb('duty.ended_at', '>=', new Date(first))]))
    .orderBy('duty.started_at')
    .execute()
  const out: Record<number, string> = {}
  for (const post of handovers) {
    const at = Date.parse(post.createdAt)
    const lead = leads.find((row) => row.shift === post.handoverTo &&
      row.started_at.getTime() <= at + TAKE_OVER_WINDOW_MS &&
      (row.ended_at === null || row.ended_at.getTime() > at))
    if (lead !== undefined) out[post.id] = lead.name
  }
  return out
}
