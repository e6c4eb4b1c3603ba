import { randomBytes } from 'node:crypto'
import equal from 'fast-deep-equal'
import type { Post } from '../domain/views.ts'
import type { Locale } from './i18n.ts'
import type { Views } from './views.ts'

/** What the signed-in viewer may do on a thread's page; which links and forms to show. */
export interface Viewer { id: number, staff: boolean, moderator: boolean, canComment: boolean }

/** A post as one viewer sees it in a thread's list. */
export interface PostOnPage {
  post: Post
  locale: Locale
  viewer: Viewer | null
  canEdit: boolean
  isPinned: boolean
  /** For a handover: the name of the incoming shift's lead, when known. */
  handoverLead: string | undefined
  /** The viewer has flagged this comment already. */
  flagged?: boolean
}

/**
 * Stands for the page's CSRF token in a post's forms: the fragment is shared by
 * many viewers, each page puts its own token in. Random, so no post can hold it.
 */
export const CSRF_SLOT = `csrf-slot-${randomBytes(16).toString('hex')}`

/**
 * Stands for the posts in a thread page's HTML: they are put in as bytes
 * encoded once, not as a string the page would encode again for each viewer.
 */
export const POSTS_SLOT = `posts-slot-${randomBytes(16).toString('hex')}`
const CSRF_SLOT_BYTES = Buffer.from(CSRF_SLOT)

/** HTML as UTF-8 bytes, with where the page's CSRF token goes in them. */
export interface Fragment { bytes: Buffer, csrfAt: number[] }

function fragmentOf (html: string): Fragment {
  const bytes = Buffer.from(html)
  const csrfAt: number[] = []
  for (let at = bytes.indexOf(CSRF_SLOT_BYTES); at !== -1; at = bytes.indexOf(CSRF_SLOT_BYTES, at + CSRF_SLOT_BYTES.length)) csrfAt.push(at)
  return { bytes, csrfAt }
}

/** The fragments one after the other, as one. */
export function joinFragments (fragments: Fragment[]): Fragment {
  const csrfAt: number[] = []
  let length = 0
  for (const fragment of fragments) {
    for (const at of fragment.csrfAt) csrfAt.push(length + at)
    length += fragment.bytes.length
  }
  return { bytes: Buffer.concat(fragments.map((fragment) => fragment.bytes), length), csrfAt }
}

/**
 * A thread page's bytes: its HTML (rendered with POSTS_SLOT where the posts
 * go) around the posts, with the page's CSRF token in the posts' forms. A
 * page of 200 posts is a few copies of bytes, not the encoding of 180 KB of
 * text, which costs milliseconds once a single character is outside Latin-1.
 */
export function pageBytes (html: string, posts: Fragment, csrf: string | undefined): Buffer {
  const at = html.indexOf(POSTS_SLOT)
  if (at === -1) throw new Error('the page has no place for its posts')
  if (posts.csrfAt.length > 0 && csrf === undefined) throw new Error('posts with forms on a page without a CSRF token')
  const token = Buffer.from(csrf ?? '')
  const pieces: Buffer[] = [Buffer.from(html.slice(0, at))]
  let from = 0
  for (const slot of posts.csrfAt) {
    pieces.push(posts.bytes.subarray(from, slot), token)
    from = slot + CSRF_SLOT_BYTES.length
  }
  pieces.push(posts.bytes.subarray(from), Buffer.from(html.slice(at + POSTS_SLOT.length)))
  return Buffer.concat(pieces)
}

/** What the post partial is rendered with, on a page or live. */
export function postContext ({ post, locale, viewer, canEdit, isPinned, handoverLead, flagged }: PostOnPage, csrf: string | undefined): Record<string, unknown> {
  return { post, locale, viewer, canEdit, isPinned, flagged: flagged === true, csrf, duty: { handoverLeads: handoverLead === undefined ? {} : { [post.id]: handoverLead } } }
}

export type PostFragments = (item: PostOnPage) => Fragment

/** A post as last rendered, and its HTML for each language and kind of viewer. */
interface Rendered { post: Post, fragments: Map<string, Fragment> }

/**
 * Each post's HTML, rendered and encoded once per language and kind of
 * viewer, and again only when the post changes: a page of 200 posts is then a
 * join of bytes, not 200 renders. A post's fragments are kept with the post
 * they were rendered from and used while the post read again is equal to it,
 * field by field (its author's name and role too); what the viewer may do is
 * in their key. At most `maxEntries` fragments are kept, the posts rendered
 * longest ago going first.
 */
export function makePostFragments (views: Views, maxEntries = 50_000): PostFragments {
  // By post id; a hidden post's text-less form (for readers) is kept apart from its whole one (for moderators).
  const byPost = new Map<number, Rendered>()
  let count = 0
  const forget = (postKey: number) => {
    count -= byPost.get(postKey)?.fragments.size ?? 0
    byPost.delete(postKey)
  }
  return (item) => {
    const { post, locale, viewer, canEdit, isPinned, handoverLead, flagged } = item
    const postKey = post.html === undefined ? -post.id : post.id
    let rendered = byPost.get(postKey)
    if (rendered !== undefined && rendered.post !== post) {
      // The same post read again: the object read last is kept, so the pages that share it skip the comparison.
      if (equal(rendered.post, post)) rendered.post = post
      else {
        forget(postKey)
        rendered = undefined
      }
    }
    if (rendered === undefined) byPost.set(postKey, rendered = { post, fragments: new Map() })
    const who = viewer === null
      ? '-'
      : `${+viewer.staff}${+viewer.moderator}${+viewer.canComment}${+(viewer.id === post.author.id)}${+(flagged === true)}`
    const key = `${locale}|${who}${+canEdit}${+isPinned}|${handoverLead ?? ''}`
    let fragment = rendered.fragments.get(key)
    if (fragment === undefined) {
      fragment = fragmentOf(views.partial('post', postContext(item, viewer === null ? undefined : CSRF_SLOT)))
      rendered.fragments.set(key, fragment)
      count++
      for (const oldest of byPost.keys()) {
        if (count <= maxEntries || oldest === postKey) break
        forget(oldest)
      }
    }
    return fragment
  }
}
