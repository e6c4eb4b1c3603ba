import type { PostKind, Role, Shift, ThreadStatus } from '../db/database.ts'

/** A thread as the API and the live stream show it (CONTRACT.md). */
export interface Thread {
  id: number
  title: string
  status: ThreadStatus
  locked: boolean
  pinnedPostId: number | null
  nextUpdateAt: string | null
  lastPostAt: string | null
  postCount: number
  createdAt: string
  slowModeSeconds: number
  /** Minutes after an update that promised nothing before the next one is due; null: no cadence. */
  cadenceMinutes: number | null
  crisisMode: boolean
  /** While in crisis mode, customers may only read. */
  crisisReadOnly: boolean
  /** The sequence number of the thread's latest event. */
  lastSeq: number
}

export interface PostAuthor { id: number, name: string, role: Role }

/** A post as the API and the live stream show it (CONTRACT.md). */
export interface Post {
  id: number
  threadId: number
  kind: PostKind
  /** Left out of hidden posts for everyone but moderators. */
  body?: string
  html?: string
  author: PostAuthor
  shift: Shift | null
  /** A handover's incoming shift, the one after the author's in the schedule. */
  handoverTo: Shift | null
  replyTo: number | null
  createdAt: string
  editedAt: string | null
  hidden: boolean
  hiddenReason: string | null
  /** The status this update set, if any. */
  status: ThreadStatus | null
  /** The next update this update promised, if any. */
  nextUpdateAt: string | null
  /** The update that answers this question, if a moderator linked one. */
  answeredBy: number | null
}

/** The largest id a row can have (PostgreSQL's integer). */
export const ID_MAX = 2_147_483_647

/** A positive id written in text (an address, a form, a link), or undefined. */
export function idFrom (raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,10}$/.test(raw)) return undefined
  const id = Number(raw)
  return id >= 1 && id <= ID_MAX ? id : undefined
}

export const iso = (date: Date | null): string | null => date === null ? null : date.toISOString()

/** What a reader may see of a post: a hidden post keeps its place, not its text. */
export function postForReader (post: Post, canSeeHidden: boolean): Post {
  if (!post.hidden || canSeeHidden) return post
  const { body: _body, html: _html, ...rest } = post
  return rest
}
