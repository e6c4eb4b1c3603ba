import { createHash, randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import type { Actor } from '../../../domain/actors.ts'
import { AppError, type Missing, notFound } from '../../../domain/errors.ts'
import type { IdempotencyKey } from '../../../domain/idempotency.ts'
import { type PostQuery, listPosts } from '../../../domain/posts.ts'
import { getThread } from '../../../domain/threads.ts'
import { ID_MAX, type Post, type Thread, idFrom } from '../../../domain/views.ts'
import { type Locale, hasMessage, translate, waitOf } from '../../i18n.ts'

/** What a form posts: strings, or lists when a field repeats. */
export type Form = Record<string, string | string[] | undefined>

/** One field of a posted form, as a string ('' when absent). */
export function field (form: Form | undefined, name: string): string {
  const value: unknown = form?.[name]
  // A form repeats a field as a list; a JSON body may send anything at all.
  const first: unknown = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' ? first : ''
}

/** A positive id from the address, else the page does not exist. */
export function parseId (raw: unknown, what: Missing): number {
  const id = typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isInteger(id) || id < 1 || id > ID_MAX) throw notFound(what)
  return id
}

/** A positive id from a query string or a form, or undefined. */
export const optionalId = idFrom

// Words that are already sub-pages of a thread cannot be its slug.
const RESERVED_SLUGS = new Set(['timeline', 'posts', 'pin', 'unpin', 'settings', 'handover', 'cadence'])

/** "Campus network down!" becomes "campus-network-down"; only for readable links, any slug is accepted. */
export function slugOf (title: string): string {
  const slug = title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).replace(/-+$/, '')
  return RESERVED_SLUGS.has(slug) ? '' : slug
}

export function threadPath (thread: { id: number, title: string }): string {
  const slug = slugOf(thread.title)
  return slug === '' ? `/t/${thread.id}` : `/t/${thread.id}/${slug}`
}

export interface UpdatePromise {
  /** When the next update was promised for. */
  at: string
  overdue: boolean
  /** Minutes left, rounded up; or minutes overdue, rounded down but at least 1. */
  minutes: number
}

/** Where a thread stands against its promised next update, by the server's clock. */
export function promiseOf (nextUpdateAt: string | null, now: Date): UpdatePromise | null {
  if (nextUpdateAt === null) return null
  const ms = Date.parse(nextUpdateAt) - now.getTime()
  return ms >= 0
    ? { at: nextUpdateAt, overdue: false, minutes: Math.ceil(ms / 60_000) }
    : { at: nextUpdateAt, overdue: true, minutes: Math.max(1, Math.floor(-ms / 60_000)) }
}

/** A domain error a user can act on, worded in their language. */
export function messageOf (locale: Locale, err: AppError): string {
  // The error's own words when it has them (one of several for its code), else its code's.
  const key = err.messageKey !== undefined && hasMessage(err.messageKey) ? err.messageKey : `errors.${err.code}`
  return hasMessage(key) ? translate(locale, key, { wait: waitOf(locale, err.retryAfter) }) : err.message
}

/**
 * Whether a form should be shown again with the error next to it: bad input,
 * a refusal or a conflict the user can fix. Anything else (not signed in, not
 * found, our own failures) goes to the error page.
 */
export function isFormError (err: unknown): err is AppError {
  return err instanceof AppError && [400, 403, 409, 413, 429].includes(err.statusCode)
}

/**
 * Whether a form's field still says what the page showed (sent beside it as
 * `<name>Was`): a moderator's form sends only what they changed, so a page
 * opened before another moderator's change does not undo it. A form without
 * the shown value counts every field as changed.
 */
export function unchanged (form: Form | undefined, name: string, value: string): boolean {
  return field(form, `${name}Was`) === value
}

/** A fresh key for a form: posting it twice (a double click, a retry on a bad connection) posts once. */
export const newFormKey = (): string => randomUUID()

/**
 * The form's idempotency key, with what it asks, so a resent form is
 * recognised. What it asks is part of the key: the same form sent twice is
 * one post, but the same page's form sent with other words is another post,
 * not a refusal. Without JavaScript, two tabs of one page (kept for its
 * reader) carry the same key, and a reader who writes in both means both.
 */
export function formIdempotency (request: FastifyRequest, form: Form | undefined): IdempotencyKey | undefined {
  const key = field(form, 'idempotencyKey')
  if (key === '') return undefined
  const { _csrf: _token, idempotencyKey: _key, ...asked } = form ?? {}
  const what = { route: request.routeOptions.url, params: request.params, form: asked }
  const digest = createHash('sha256').update(JSON.stringify([key, what])).digest('base64url')
  return { key: `form:${digest}`, request: what }
}

/** The most posts one request reads at a time (the domain's own ceiling). */
export const PAGE_SIZE = 200

/** A thread and its official updates and handovers, oldest first: its timeline and its feed. */
export async function threadUpdates (db: Kysely<Database>, threadId: number, viewer: Actor | null): Promise<{ thread: Thread, updates: Post[] }> {
  const thread = await getThread(db, threadId)
  return { thread, updates: await allPosts(db, thread.id, { kind: 'update' }, viewer) }
}

/** Every post of a thread matching the query, page after page. */
export async function allPosts (db: Kysely<Database>, threadId: number, query: Omit<PostQuery, 'after' | 'limit'>, viewer: Actor | null): Promise<Post[]> {
  const out: Post[] = []
  for (;;) {
    const page = await listPosts(db, threadId, { ...query, after: out.at(-1)?.id, limit: PAGE_SIZE }, viewer)
    out.push(...page)
    if (page.length < PAGE_SIZE) return out
  }
}

/**
 * The page of this site a form was sent from, by the address browsers send
 * along to their own site (Referer); null when it names another site or none.
 */
export function pageOfOurs (request: FastifyRequest): URL | null {
  const referer = request.headers.referer
  if (referer === undefined || !URL.canParse(referer)) return null
  const url = new URL(referer)
  // Compared as URLs do: a default port is no port.
  const here = `${url.protocol}//${request.headers.host ?? ''}`
  return URL.canParse(here) && url.host === new URL(here).host ? url : null
}
