import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database, Role, Shift } from '../db/database.ts'
import { type Actor, requireAdmin } from './actors.ts'
import { recordAudit } from './audit.ts'
import type { Deps } from './deps.ts'
import { badRequest, conflict, notFound } from './errors.ts'
import { endAllSessions } from './sessions.ts'
import { endDuty } from './duty.ts'
import { SHIFTS } from './shifts.ts'
import { type IdempotencyKey, answerOnce } from './idempotency.ts'
import { hashPassword } from './passwords.ts'
import { type TokenKey, issueApiToken, issueOnce, revokeApiTokenById, tokenLabel } from './tokens.ts'
import { isStorable } from './text.ts'
import { ROLES, insertUser, refuseTakenEmail, validateNewUser } from './users.ts'

export interface UserSummary { id: number, email: string, name: string, role: Role, shift: Shift | null, createdAt: string }

const USER_COLUMNS = ['id', 'email', 'name', 'role', 'shift', 'created_at'] as const
const toSummary = (row: { id: number, email: string, name: string, role: Role, shift: Shift | null, created_at: Date }): UserSummary =>
  ({ id: row.id, email: row.email, name: row.name, role: row.role, shift: row.shift, createdAt: row.created_at.toISOString() })

export async function listUsers (db: Kysely<Database>, actor: Actor | null): Promise<UserSummary[]> {
  requireAdmin(actor)
  const rows = await db.selectFrom('users').select(USER_COLUMNS).orderBy('id').limit(1000).execute()
  return rows.map(toSummary)
}

/** How many customers the users' page lists at once: a crisis brings thousands. */
export const CUSTOMERS_SHOWN = 100

/**
 * The users' page: every staff member, then the customers whose name or
 * e-mail holds `search`, or, without one, the newest (a colleague who just
 * registered, to be given a role, is at the top); `more` when there are others.
 */
export async function findUsers (db: Kysely<Database>, actor: Actor | null, search = ''): Promise<{ staff: UserSummary[], customers: UserSummary[], more: boolean }> {
  const staff = await listStaff(db, actor)
  // A search no name could hold (U+0000) finds no one.
  if (!isStorable(search)) return { staff, customers: [], more: false }
  const pattern = `%${search.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const customers = await db.selectFrom('users').select(USER_COLUMNS)
    .where('role', '=', 'customer')
    .$if(search.trim() !== '', (query) => query.where((eb) => eb.or([eb('name', 'ilike', pattern), eb('email', 'ilike', pattern)])))
    .orderBy('id', 'desc')
    .limit(CUSTOMERS_SHOWN + 1)
    .execute()
  return { staff, customers: customers.slice(0, CUSTOMERS_SHOWN).map(toSummary), more: customers.length > CUSTOMERS_SHOWN }
}

/** Every staff member (a token is for a staff member's script; customers ask for their own). */
export async function listStaff (db: Kysely<Database>, actor: Actor | null): Promise<UserSummary[]> {
  requireAdmin(actor)
  const rows = await db.selectFrom('users').select(USER_COLUMNS).where('role', '<>', 'customer').orderBy('id').execute()
  return rows.map(toSummary)
}

export interface UserPatch { role?: string, shift?: string | null }

/** How long a link to choose a password works when an admin gives it: a new account's, a week; another's, a day. */
const NEW_ACCOUNT_LINK_MS = 7 * 24 * 60 * 60_000
const GIVEN_LINK_MS = 24 * 60 * 60_000

/** Whom a link to choose a password is for, with the password it replaces (the link works until it changes). */
export interface LinkOwner { user: UserSummary, locale: 'en' | 'fr' | null, passwordHash: string }

/**
 * A link given: whom for, when and for how long (`lifeMs` from `givenAt`),
 * whether it is new (not the same form sent again: a double click, a reload
 * of its answer), and whether it is spent. The same form sent again is given
 * the same time, so the same link as the first answer, the one e-mailed;
 * once that link was used (or the password changed otherwise), or its life
 * is over, it is spent, and the form sent again gives no link: a new one is
 * another form.
 */
export interface GivenLink { owner: LinkOwner, givenAt: Date, lifeMs: number, fresh: boolean, spent: boolean }

/**
 * An admin makes an account for someone: a colleague called in for the
 * night, a customer on the phone. Its password is one nobody knows, until
 * its owner chooses theirs with the link the admin gives them. The same form
 * sent again is the same person, not a refusal: the admin is given the link
 * again.
 */
export async function addUser (deps: Deps, actor: Actor | null, input: { email: string, name: string, role: string, shift: string | null }, idem?: IdempotencyKey): Promise<GivenLink> {
  const admin = requireAdmin(actor)
  const user = validateNewUser({ email: input.email, name: input.name, role: input.role as Role, shift: input.shift as Shift | null, password: randomBytes(24).toString('base64url') })
  // Hashed before the transaction: no row stays locked while argon2 works.
  const passwordHash = await hashPassword(user.password)
  let fresh = false
  const answer = await deps.db.transaction().execute(async (trx) => await answerOnce<{ userId: number } & KeptLink>(trx, admin.id, idem, 200, async () => {
    await refuseTakenEmail(trx, user.email)
    const created = await insertUser(trx, user, passwordHash, deps.now())
    await recordAudit(trx, admin, { action: 'user.create', targetUserId: created.id, after: { role: created.role, shift: created.shift } })
    fresh = true
    return { userId: created.id, ...keptLink(deps, passwordHash) }
  }))
  return givenLink(deps, await linkOwner(deps.db, answer.userId), answer, NEW_ACCOUNT_LINK_MS, fresh)
}

/**
 * An admin gives someone a link to choose a new password: one who forgot
 * theirs where the forum sends no e-mail, or whose e-mail does not come.
 */
export async function passwordLinkFor (deps: Deps, actor: Actor | null, userId: number, idem?: IdempotencyKey): Promise<GivenLink> {
  const admin = requireAdmin(actor)
  // Read once: in the transaction when the link is new, after it when the same form came again.
  let owner: LinkOwner | undefined
  const answer = await deps.db.transaction().execute(async (trx) => await answerOnce<KeptLink>(trx, admin.id, idem, 200, async () => {
    owner = await linkOwner(trx, userId)
    await recordAudit(trx, admin, { action: 'user.reset', targetUserId: userId })
    return keptLink(deps, owner.passwordHash)
  }))
  const fresh = owner !== undefined
  return givenLink(deps, owner ?? await linkOwner(deps.db, userId), answer, GIVEN_LINK_MS, fresh)
}

/**
 * What the answer of a form that gives a link keeps of it: when, and a
 * fingerprint of the password it replaces (not the link, which is not kept
 * anywhere: it is made again from these). Answers kept before these were
 * have neither: their link is made now, for the password of now.
 */
type KeptLink = { givenAt?: string, replaces?: string }

const fingerprint = (passwordHash: string): string => createHash('sha256').update(passwordHash).digest('base64url')

const keptLink = (deps: Deps, passwordHash: string): Required<KeptLink> => ({ givenAt: deps.now().toISOString(), replaces: fingerprint(passwordHash) })

function givenLink (deps: Deps, owner: LinkOwner, answer: KeptLink, lifeMs: number, fresh: boolean): GivenLink {
  const now = deps.now()
  const givenAt = answer.givenAt === undefined ? now : new Date(answer.givenAt)
  const used = answer.replaces !== undefined && answer.replaces !== fingerprint(owner.passwordHash)
  return { owner, givenAt, lifeMs, fresh, spent: used || givenAt.getTime() + lifeMs <= now.getTime() }
}

async function linkOwner (db: Kysely<Database>, userId: number): Promise<LinkOwner> {
  const row = await db.selectFrom('users').select([...USER_COLUMNS, 'locale', 'password_hash']).where('id', '=', userId).executeTakeFirst()
  if (row === undefined) throw notFound('user')
  return { user: toSummary(row), locale: row.locale, passwordHash: row.password_hash }
}

/**
 * Changes a user's role or a technician's shift. A new role takes effect at
 * once: the user's sessions end, so no page keeps the old powers.
 */
export async function changeUser (deps: Deps, actor: Actor | null, userId: number, patch: UserPatch): Promise<UserSummary> {
  const admin = requireAdmin(actor)
  if (patch.role !== undefined && !ROLES.includes(patch.role as Role)) throw badRequest('invalid_role', `The role must be one of ${ROLES.join(', ')}.`)
  if (patch.shift != null && !SHIFTS.includes(patch.shift as Shift)) throw badRequest('invalid_shift', `The shift must be one of ${SHIFTS.join(', ')}.`)
  let offDuty = false
  const changed = await deps.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').select(['id', 'role', 'shift']).where('id', '=', userId).forUpdate().executeTakeFirst()
    if (before === undefined) throw notFound('user')
    const role = (patch.role ?? before.role) as Role
    // A shift belongs to technicians: another role drops it, a technician needs one.
    const shift = role === 'technician' ? ((patch.shift ?? before.shift ?? null) as Shift | null) : null
    if (role === 'technician' && shift === null) throw badRequest('shift_required', 'A technician needs a shift: day, evening or night.')
    if (role !== 'technician' && patch.shift != null) throw badRequest('shift_for_technicians', 'Only technicians have a shift.')
    if (before.role === 'admin' && role !== 'admin') {
      // Admins are locked in order, so two demoting each other cannot both pass.
      const admins = await trx.selectFrom('users').select('id').where('role', '=', 'admin').orderBy('id').forUpdate().execute()
      if (admins.length <= 1) throw conflict('last_admin', 'The last admin cannot be demoted: make another admin first.')
    }
    if (role === before.role && shift === before.shift) return await summary(trx, userId)
    await trx.updateTable('users').set({ role, shift }).where('id', '=', userId).execute()
    await recordAudit(trx, admin, {
      action: role === before.role ? 'user.shift' : 'user.role',
      targetUserId: userId,
      before: { role: before.role, shift: before.shift },
      after: { role, shift }
    })
    if (role !== before.role) await endAllSessions(trx, userId)
    // A customer is on duty no more: the pages would show them as the shift's lead.
    if (role === 'customer') offDuty = await endDuty(trx, deps, userId)
    return await summary(trx, userId)
  })
  if (offDuty) deps.dutyChanged()
  return changed
}

async function summary (db: Kysely<Database>, userId: number): Promise<UserSummary> {
  const row = await db.selectFrom('users').select(['id', 'email', 'name', 'role', 'shift', 'created_at']).where('id', '=', userId).executeTakeFirstOrThrow()
  return { id: row.id, email: row.email, name: row.name, role: row.role, shift: row.shift, createdAt: row.created_at.toISOString() }
}

export interface TokenSummary {
  id: number
  owner: { id: number, name: string, email: string }
  /** What it is for; null when its maker did not say. */
  label: string | null
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

export async function listTokens (db: Kysely<Database>, actor: Actor | null): Promise<TokenSummary[]> {
  requireAdmin(actor)
  const rows = await db.selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['api_tokens.id', 'api_tokens.label', 'api_tokens.created_at', 'api_tokens.last_used_at', 'api_tokens.revoked_at', 'users.id as user_id', 'users.name', 'users.email'])
    .orderBy('api_tokens.id', 'desc')
    .limit(1000)
    .execute()
  return rows.map((row) => ({
    id: row.id,
    owner: { id: row.user_id, name: row.name, email: row.email },
    label: row.label,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null
  }))
}

/** A new token for a user; the answer is the only time it is shown. */
export async function createTokenFor (deps: Deps, actor: Actor | null, userId: number, key?: TokenKey, label?: string | null): Promise<{ id: number, token: string, label: string | null }> {
  const admin = requireAdmin(actor)
  const kept = tokenLabel(label)
  const issued = await deps.db.transaction().execute(async (trx) => await issueOnce(trx, admin.id, key, async () => {
    const user = await trx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
    if (user === undefined) throw notFound('user')
    const { id, token } = await issueApiToken(trx, userId, kept)
    await recordAudit(trx, admin, { action: 'token.create', targetUserId: userId, after: { tokenId: id, label: kept } })
    return { id, token }
  }))
  return { ...issued, label: kept }
}

export async function revokeToken (deps: Deps, actor: Actor | null, tokenId: number): Promise<void> {
  const admin = requireAdmin(actor)
  await deps.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('api_tokens').select(['user_id', 'revoked_at']).where('id', '=', tokenId).executeTakeFirst()
    if (row === undefined) throw notFound('token')
    if (!await revokeApiTokenById(trx, tokenId, deps.now())) return
    await recordAudit(trx, admin, { action: 'token.revoke', targetUserId: row.user_id, before: { tokenId, revoked: false }, after: { tokenId, revoked: true } })
  })
}
