import type { Kysely } from 'kysely'
import type { Database } from '../../../db/database.ts'
import { type Actor, isModerator } from '../../../domain/actors.ts'
import { handoverLeads } from '../../../domain/duty.ts'
import { type PinnedState, loadPins } from '../../../domain/moderation.ts'
import { loadPost, loadPostPage } from '../../../domain/posts.ts'
import { getThread } from '../../../domain/threads.ts'
import { type Post, type Thread, postForReader } from '../../../domain/views.ts'
import { PAGE_SIZE } from './shared.ts'

/** What a thread's page shows of the database, hidden posts whole: `forViewer` tells who sees them. */
export interface ThreadView {
  thread: Thread
  /** One page of posts, in id order: the latest, or those after `after` or before `before`. */
  posts: Post[]
  /** The thread has posts before the page's first, or after its last (the page then does not grow with new ones). */
  earlier: boolean
  later: boolean
  pinned: Post | null
  /** The states pinned before the current one, newest first. */
  pinHistory: PinnedState[]
  /** The incoming lead's name of each handover shown, by post id. */
  handoverLeads: Record<number, string>
}

export interface ThreadViewQuery {
  /** Official updates and handovers only. */
  official: boolean
  /** Post ids: the page after one (0: from the start), or before one; the latest page without either. */
  after?: number | undefined
  before?: number | undefined
}

export async function loadThreadView (db: Kysely<Database>, threadId: number, query: ThreadViewQuery): Promise<ThreadView> {
  const thread = await getThread(db, threadId)
  const [{ posts, earlier, later }, pinned, pins] = await Promise.all([
    loadPostPage(db, threadId, query, PAGE_SIZE),
    thread.pinnedPostId === null ? null : loadPost(db, thread.pinnedPostId),
    loadPins(db, threadId, true)
  ])
  return {
    thread,
    posts,
    earlier,
    later,
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
