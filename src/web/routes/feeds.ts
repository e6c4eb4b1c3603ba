import etag from '@fastify/etag'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { Feed } from 'feed'
import Handlebars from 'handlebars'
import { loadPosts } from '../../domain/posts.ts'
import { listIncidents } from '../../domain/threads.ts'
import { INVISIBLE_CONTROLS } from '../../domain/text.ts'
import { type Post, postForReader } from '../../domain/views.ts'
import { isolate, translate } from '../i18n.ts'
import { PUBLIC_CACHE_CONTROL } from '../plugins/app/page-cache.ts'
import { makeDateFormatter } from '../views.ts'
import { parseId, promiseOf, threadPath, threadUpdates } from './pages/shared.ts'

/** How many entries a feed carries: feed readers only look at the newest. */
const FEED_ENTRIES = 50
const ATOM = 'application/atom+xml; charset=utf-8'

const latest = (post: Post): Date => new Date(post.editedAt ?? post.createdAt)

/**
 * A feed as XML 1.0 can carry it, in the reader's language, cached as the
 * pages are: a feed reader polling every few minutes gets a 304. Text kept
 * before invisible controls were dropped on input is cleaned here: one would
 * make feed readers refuse the whole feed.
 */
const sendAtom = (reply: FastifyReply, feed: Feed, locale: string) => reply
  .type(ATOM)
  .header('cache-control', PUBLIC_CACHE_CONTROL)
  .header('vary', 'Accept-Language, Cookie')
  .send(feed.atom1()
    .replace(INVISIBLE_CONTROLS, '')
    .replace('<feed xmlns="http://www.w3.org/2005/Atom">', `<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="${locale}">`))

/**
 * The Atom feeds. The site's feed has one entry per incident, the most recently
 * active first, updated whenever anything is posted in it: a subscriber learns
 * of new incidents and of changes to known ones without one entry per comment.
 * A thread's feed has one entry per official update, newest first.
 */
const feedRoutes: FastifyPluginAsync = async (fastify) => {
  const { deps, views } = fastify
  const base = fastify.config.publicUrl
  const formatDate = makeDateFormatter(fastify.config.tzDisplay)
  // Entry titles are HTML in Atom (type="html"): a title is text, so it is escaped.
  const escape = Handlebars.escapeExpression
  // Strong ETags of the feed's bytes, and a 304 to a reader that has them (the feeds' routes only).
  await fastify.register(etag)

  fastify.get('/feed.atom', async (request, reply) => {
    const locale = request.locale
    const now = deps.now()
    const { threads, pinnedPosts } = await fastify.pageCache.read(async (db) => {
      // The latest by activity are among the open ones and as many resolved ones.
      const { open, resolved } = await listIncidents(db, { limit: FEED_ENTRIES, withOpen: true })
      const threads = [...open, ...resolved]
        .map((thread) => ({ thread, activity: new Date(thread.lastPostAt ?? thread.createdAt) }))
        .sort((a, b) => b.activity.getTime() - a.activity.getTime() || b.thread.id - a.thread.id)
        .slice(0, FEED_ENTRIES)
      // Every entry's current state, in one query.
      return { threads, pinnedPosts: await loadPosts(db, threads.flatMap(({ thread }) => thread.pinnedPostId === null ? [] : [thread.pinnedPostId])) }
    })
    const feed = new Feed({
      id: `${base}/`,
      title: translate(locale, 'feed.site.title'),
      description: translate(locale, 'feed.site.description'),
      link: `${base}/`,
      feed: `${base}/feed.atom?lang=${locale}`,
      language: locale,
      updated: threads[0]?.activity ?? now,
      generator: false
    })
    for (const { thread, activity } of threads) {
      const kept = thread.pinnedPostId === null ? undefined : pinnedPosts.get(thread.pinnedPostId)
      const pinned = kept === undefined ? null : postForReader(kept, false)
      const link = `${base}${threadPath(thread)}`
      feed.addItem({
        id: `${base}/t/${thread.id}`,
        link,
        title: escape(`${thread.title} (${translate(locale, `status.${thread.status}`)})`),
        date: activity,
        published: new Date(thread.createdAt),
        content: views.partial('feed-incident', { locale, thread, pinned, now: now.toISOString(), promise: promiseOf(thread.nextUpdateAt, now) })
      })
    }
    return sendAtom(reply, feed, locale)
  })

  fastify.get<{ Params: { id: string } }>('/t/:id/feed.atom', async (request, reply) => {
    const locale = request.locale
    const threadId = parseId(request.params.id, 'thread')
    const { thread, updates: all } = await fastify.pageCache.read((db) => threadUpdates(db, threadId, null))
    const updates = all
      .filter((post) => !post.hidden)
      .reverse()
      .slice(0, FEED_ENTRIES)
    const link = `${base}${threadPath(thread)}`
    const feed = new Feed({
      id: `${base}/t/${thread.id}`,
      title: translate(locale, 'feed.thread.title', { title: isolate(thread.title) }),
      link,
      feed: `${base}/t/${thread.id}/feed.atom?lang=${locale}`,
      language: locale,
      updated: updates[0] === undefined ? new Date(thread.createdAt) : latest(updates[0]),
      generator: false
    })
    for (const post of updates) {
      // Its zone named: a feed reader has no script to put it in the reader's.
      const when = formatDate(locale, new Date(post.createdAt), 'zoned')
      const kind = translate(locale, `kind.${post.kind}`)
      const title = post.status === null
        ? translate(locale, 'feed.entry.title', { kind, when })
        : translate(locale, 'feed.entry.titleWithStatus', { kind, when, status: translate(locale, `status.${post.status}`) })
      feed.addItem({
        id: `${base}/t/${thread.id}#p-${post.id}`,
        // The post's own address leads to the stretch of a long thread it is on.
        link: `${base}/posts/${post.id}`,
        title: escape(title),
        date: latest(post),
        published: new Date(post.createdAt),
        author: [{ name: post.author.name }],
        // The promise it made, as the page shows it under the post; in full, its
        // time zone named: a feed reader has no script to put it in the reader's.
        content: (post.html ?? '') + (post.nextUpdateAt === null
          ? ''
          : `<p><em>${escape(translate(locale, 'post.nextUpdateBy', { time: formatDate(locale, new Date(post.nextUpdateAt), 'full') }))}</em></p>`)
      })
    }
    return sendAtom(reply, feed, locale)
  })
}

export default feedRoutes
