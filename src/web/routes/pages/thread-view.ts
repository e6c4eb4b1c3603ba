import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import { type Actor, isModerator } from '../../../domain/actors.ts'
import { handoverLeads } from '../../../domain/duty.ts'
import { type PinnedState, loadPins } from '../../../domain/moderation.ts'
import { loadPost, loadThreadPosts } from '../../../domain/posts.ts'
import { getThread } from '../../../domain/threads.ts'
import { type Post, type Thread, postForReader } from '../../../domain/views.ts'
import { PAGE_SIZE } from './shared.ts'

/** What a thread's page shows of the database, hidden posts whole: `forViewer` tells who sees them. */
export interface ThreadView {
  thread: Thread
  /** One page of posts: the first, or those after `after`. */
  posts: Post[]
  pinned: Post | null
  /** The states pinned before the current one, newest first. */
  pinHistory: PinnedState[]
  /** The incoming lead's name of each handover shown, by post id. */
  handoverLeads: Record<number, string>
}

export interface ThreadViewQuery {
  /** Official updates and handovers only. */
  official: boolean
  after?: number
}

export async function loadThreadView (db: Kysely<Database>, threadId: number, query: ThreadViewQuery): Promise<ThreadView> {
  const thread = await getThread(db, threadId)
  const [posts, pinned, pins] = await Promise.all([
    loadThreadPosts(db, threadId, { after: query.after, limit: PAGE_SIZE, ...(query.official && { kind: 'update' as const }) }, false),
    thread.pinnedPostId === null ? null : loadPost(db, thread.pinnedPostId),
    loadPins(db, threadId, true)
  ])
  return {
    thread,
    posts,
    pinned,
    pinHistory: pins.filter((pin) => pin.unpinnedAt !== null),
    handoverLeads: await handoverLeads(db, pinned === null ? posts : [...posts, pinned])
  }
}

/** The view as this viewer may see it: a hidden post keeps its place, its text for moderators only. */
export function forViewer (view: ThreadView, actor: Actor | null): ThreadView {
  if (isModerator(actor)) return view
  const hide = (post: Post) => postForReader(post, false)
  return {
    ...view,
    posts: view.posts.map(hide),
    pinned: view.pinned === null ? null : hide(view.pinned),
    pinHistory: view.pinHistory.map((pin) => ({ ...pin, post: hide(pin.post) }))
  }
}
