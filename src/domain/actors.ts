import type { Role, Shift } from '../db/database.ts'
import { forbidden, unauthorized } from './errors.ts'

/** Whoever makes a request: a signed-in user, or null for an anonymous reader. */
export interface Actor {
  id: number
  email: string
  name: string
  role: Role
  shift: Shift | null
  locale: 'en' | 'fr' | null
}

export const isStaff = (actor: Actor | null): boolean => actor !== null && actor.role !== 'customer'
export const isModerator = (actor: Actor | null): boolean => actor?.role === 'moderator' || actor?.role === 'admin'

export function requireSignedIn (actor: Actor | null): Actor {
  if (actor === null) throw unauthorized()
  return actor
}

export function requireStaff (actor: Actor | null): Actor {
  const signedIn = requireSignedIn(actor)
  if (!isStaff(signedIn)) throw forbidden('staff_only', 'Only technicians, moderators and admins may do this.')
  return signedIn
}

export function requireModerator (actor: Actor | null): Actor {
  const signedIn = requireSignedIn(actor)
  if (!isModerator(signedIn)) throw forbidden('moderator_only', 'Only moderators and admins may do this.')
  return signedIn
}

export function requireAdmin (actor: Actor | null): Actor {
  const signedIn = requireSignedIn(actor)
  if (signedIn.role !== 'admin') throw forbidden('admin_only', 'Only admins may do this.')
  return signedIn
}
