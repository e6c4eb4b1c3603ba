import type { Kysely } from 'kysely'
import type { Database, Role, Shift, UserRow } from '../db/database.ts'
import type { Actor } from './actors.ts'
import { badRequest, conflict } from './errors.ts'
import { PASSWORD_MAX, PASSWORD_MIN, decoyVerify, hashPassword, verifyPassword } from './passwords.ts'
import { SHIFTS } from './shifts.ts'
import { isStorable, storable } from './text.ts'

export const ROLES: readonly Role[] = ['customer', 'technician', 'moderator', 'admin']

export interface NewUser {
  email: string
  name: string
  password: string
  role: Role
  shift?: Shift | null
}

// One mailbox, as people write it: letters of any script, digits and the
// marks an address may hold. Nothing a mailer would read as a list, a
// quoted part or a name beside an address (, ; < > " ( ) [ ] \ :), which
// would send the e-mails of this account to another mailbox.
const ADDRESS_PART = '[^\\s@,;<>"()\\[\\]\\\\:\\u0000-\\u001f\\u007f]+'
const EMAIL = new RegExp(`^${ADDRESS_PART}@${ADDRESS_PART}\\.${ADDRESS_PART}$`)

export function toActor (row: Pick<UserRow, 'id' | 'email' | 'name' | 'role' | 'shift' | 'locale'>): Actor {
  return { id: row.id, email: row.email, name: row.name, role: row.role, shift: row.shift, locale: row.locale }
}

/** The rules every new password follows, at sign-up and at a change; throws a 400 naming the broken one. */
export function validatePassword (password: string): void {
  if ([...password].length < PASSWORD_MIN) throw badRequest('password_too_short', `The password must be at least ${PASSWORD_MIN} characters long.`)
  if (password.length > PASSWORD_MAX) throw badRequest('password_too_long', `The password must be at most ${PASSWORD_MAX} characters long.`)
}

/** A character that shows: not a space, nor an invisible one (zero-width, a Hangul or Braille blank). */
const VISIBLE = /[^\p{White_Space}\p{Cf}\u115F\u1160\u3164\uFFA0\u2800]/u

/**
 * A name as shown beside posts: on one line (tabs and line breaks are
 * spaces), trimmed, 1 to 80 characters, one of which shows; throws a 400 otherwise.
 */
export function validateName (input: string): string {
  const name = storable(input).replace(/[\t\n\r\v\f\u0085\u2028\u2029]+/g, ' ').trim()
  if (name.length < 1 || name.length > 80 || !VISIBLE.test(name)) throw badRequest('invalid_name', 'The name must be 1 to 80 characters long.')
  return name
}

/** Checks a new user's fields; throws a 400 naming the first bad one. */
export function validateNewUser (input: NewUser): NewUser {
  const email = input.email.trim()
  if (!EMAIL.test(email) || email.length > 254) throw badRequest('invalid_email', 'The e-mail address is not valid.')
  const name = validateName(input.name)
  validatePassword(input.password)
  if (!ROLES.includes(input.role)) throw badRequest('invalid_role', `The role must be one of ${ROLES.join(', ')}.`)
  const shift = input.shift ?? null
  if (shift !== null && !SHIFTS.includes(shift)) throw badRequest('invalid_shift', `The shift must be one of ${SHIFTS.join(', ')}.`)
  if (input.role === 'technician' && shift === null) throw badRequest('shift_required', 'A technician needs a shift: day, evening or night.')
  if (input.role !== 'technician' && shift !== null) throw badRequest('shift_for_technicians', 'Only technicians have a shift.')
  return { ...input, email, name, shift }
}

/** `now`: the app's clock, which posts are stamped by (the flags' rule compares the two); else the database's. */
export async function createUser (db: Kysely<Database>, input: NewUser, now?: Date): Promise<Actor> {
  const user = validateNewUser(input)
  // Before the hash: an address taken costs no argon2.
  await refuseTakenEmail(db, user.email)
  return await insertUser(db, user, await hashPassword(user.password), now)
}

const emailTaken = () => conflict('email_taken', 'An account with this e-mail address already exists.')

/** Throws a 409 when an account has this address, whatever its capitals. */
export async function refuseTakenEmail (db: Kysely<Database>, email: string): Promise<void> {
  if (await findUserByEmail(db, email) !== undefined) throw emailTaken()
}

/** Inserts a checked new user with their password's hash; an address taken meanwhile is a 409. */
export async function insertUser (db: Kysely<Database>, user: NewUser, passwordHash: string, now?: Date): Promise<Actor> {
  try {
    const row = await db.insertInto('users')
      .values({ email: user.email, name: user.name, role: user.role, shift: user.shift ?? null, password_hash: passwordHash, locale: null, ...(now !== undefined && { created_at: now }) })
      .returningAll()
      .executeTakeFirstOrThrow()
    return toActor(row)
  } catch (err) {
    // Two sign-ups with one address at the same moment: the unique index decides.
    if ((err as { code?: string }).code === '23505') throw emailTaken()
    throw err
  }
}

export async function findUserByEmail (db: Kysely<Database>, email: string): Promise<UserRow | undefined> {
  if (!isStorable(email)) return undefined
  return await db.selectFrom('users').selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
    .executeTakeFirst()
}

export async function findUserById (db: Kysely<Database>, id: number): Promise<Actor | undefined> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
  return row === undefined ? undefined : toActor(row)
}

/**
 * The user with these credentials, or null. An unknown e-mail costs the same
 * hashing time as a wrong password, so the answer does not tell them apart.
 */
export async function verifyCredentials (db: Kysely<Database>, email: string, password: string): Promise<Actor | null> {
  if (password.length > PASSWORD_MAX) return null
  const row = await findUserByEmail(db, email)
  if (row === undefined) {
    await decoyVerify(password)
    return null
  }
  return await verifyPassword(row.password_hash, password) ? toActor(row) : null
}

export async function countUsers (db: Kysely<Database>): Promise<number> {
  const { count } = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()
  return Number(count)
}

/** The language a user chose: their pages and their e-mails follow it. */
export async function setPreferredLocale (db: Kysely<Database>, actor: Actor, locale: 'en' | 'fr'): Promise<Actor> {
  if (actor.locale === locale) return actor
  await db.updateTable('users').set({ locale }).where('id', '=', actor.id).execute()
  return { ...actor, locale }
}
