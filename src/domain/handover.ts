import type { Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import { type Actor, requireStaff } from './actors.ts'
import type { Deps } from './deps.ts'
import { endDuty } from './duty.ts'
import { badRequest } from './errors.ts'
import type { IdempotencyKey } from './idempotency.ts'
import { createPost } from './posts.ts'
import type { Post } from './views.ts'

/** What a technician ending a shift tells the next one. */
export interface HandoverNotes {
  done?: string
  pending?: string
  next?: string
  nextUpdateAt?: string | null
  /** End the author's check-in with the handover: in its transaction, so never one without the other. */
  checkOut?: boolean
}

/** The section headings, in the poster's language. */
export interface HandoverHeadings { done: string, pending: string, next: string }

const SECTIONS = ['done', 'pending', 'next'] as const

/** The notes as one Markdown body: a heading per section that says something. */
export function handoverBody (notes: HandoverNotes, headings: HandoverHeadings): string {
  return SECTIONS
    .map((section) => ({ heading: headings[section], text: (notes[section] ?? '').trim() }))
    .filter((part) => part.text !== '')
    .map((part) => `### ${part.heading}\n\n${part.text}`)
    .join('\n\n')
}

/**
 * Posts a handover: the outgoing shift is the author's, the incoming one the
 * next in the schedule (both stamped by createPost).
 */
export async function postHandover (deps: Deps, actor: Actor | null, threadId: number, notes: HandoverNotes, headings: HandoverHeadings, idem?: IdempotencyKey): Promise<Post> {
  const staff = requireStaff(actor)
  const body = handoverBody(notes, headings)
  if (body === '') throw badRequest('empty_handover', 'Say at least what was done, what is pending or the next steps.')
  let checkedOut = false
  const checkOut = notes.checkOut === true
    ? async (trx: Transaction<Database>) => { checkedOut = await endDuty(trx, deps, staff.id) }
    : undefined
  const post = await createPost(deps, actor, threadId, { body, kind: 'handover', nextUpdateAt: notes.nextUpdateAt ?? null }, idem, checkOut)
  if (checkedOut) deps.dutyChanged()
  return post
}
