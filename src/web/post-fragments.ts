import { createHash, randomBytes } from 'node:crypto'
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
}

/**
 * Stands for the page's CSRF token in a post's forms: the fragment is shared by
 * many viewers, each page puts its own token in. Random, so no post can hold it.
 */
export const CSRF_SLOT = `csrf-slot-${randomBytes(16).toString('hex')}`

export type PostFragments = (item: PostOnPage) => string

/**
 * Each post's HTML, rendered once per language and kind of viewer, and again
 * only when the post changes: a page of 200 posts is then a join of strings,
 * not 200 renders. Everything the post partial reads is in the key: the post
 * itself (through a digest of all its fields) and what the viewer may do.
 */
export function makePostFragments (views: Views, maxEntries = 50_000): PostFragments {
  const fragments = new Map<string, string>()
  const digests = new WeakMap<Post, string>()
  const digestOf = (post: Post) => {
    let digest = digests.get(post)
    if (digest === undefined) {
      digest = createHash('sha1').update(JSON.stringify(post)).digest('base64url')
      digests.set(post, digest)
    }
    return digest
  }
  return ({ post, locale, viewer, canEdit, isPinned, handoverLead }) => {
    const who = viewer === null
      ? '-'
      : `${+viewer.staff}${+viewer.moderator}${+viewer.canComment}${+(viewer.id === post.author.id)}`
    // The lead's name is free text: it comes last but for the id and the digest, which hold no '|'.
    const key = `${locale}|${who}${+canEdit}${+isPinned}|${handoverLead ?? ''}|${post.id}|${digestOf(post)}`
    let html = fragments.get(key)
    if (html === undefined) {
      html = views.partial('post', {
        post,
        locale,
        viewer,
        canEdit,
        isPinned,
        csrf: viewer === null ? undefined : CSRF_SLOT,
        duty: { handoverLeads: handoverLead === undefined ? {} : { [post.id]: handoverLead } }
      })
      if (fragments.size >= maxEntries) fragments.delete(fragments.keys().next().value!)
      fragments.set(key, html)
    }
    return html
  }
}
