import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { handoverLeads } from '../../../domain/duty.ts'
import { createPost } from '../../../domain/posts.ts'
import { pinPost, unpinPost, updateThread } from '../../../domain/threads.ts'
import { type Form, field, formIdempotency, isFormError, messageOf, optionalId, parseId, threadUpdates, unchanged } from './shared.ts'
import { type ThreadQuery, moderate, nextUpdateFrom, renderThread, threadPageHtml } from './thread-page.ts'

interface ThreadParams { id: string, slug?: string }

/** "none" promises nothing; a number of minutes promises the next update that far from now. */
const threadPages: FastifyPluginAsync = async (fastify) => {
  const showThread = async (request: FastifyRequest<{ Params: ThreadParams, Querystring: ThreadQuery }>, reply: FastifyReply) => {
    const threadId = parseId(request.params.id, 'thread')
    return await fastify.pageCache.send(request, reply, () => threadPageHtml(fastify, request, reply, threadId, request.query))
  }
  // The page names its canonical address, so every slug shares one entry.
  const cachedPage = (request: FastifyRequest) => {
    const threadId = optionalId((request.params as ThreadParams).id)
    if (threadId === undefined) return null
    const view = (request.query as ThreadQuery).view === 'official' ? 'official' : 'all'
    return { key: `thread:${threadId}:${view}`, threadId }
  }

  // Any slug leads to the thread: titles change, links in old messages must keep working.
  fastify.get('/t/:id', { config: { cachedPage } }, showThread)
  fastify.get('/t/:id/:slug', { config: { cachedPage } }, showThread)

  fastify.get<{ Params: ThreadParams }>('/t/:id/timeline', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const { thread, updates, leads } = await fastify.pageCache.read(async (db) => {
      const read = await threadUpdates(db, threadId, request.actor)
      return { ...read, leads: await handoverLeads(db, read.updates) }
    })
    return reply.page('timeline', {
      title: thread.title,
      thread,
      updates,
      // Each handover says which shift took over, and who led it then, as the thread does.
      duty: { handoverLeads: leads },
      threadFeed: { href: `/t/${thread.id}/feed.atom`, title: thread.title },
      now: fastify.deps.now().toISOString()
    })
  })

  fastify.post<{ Params: ThreadParams, Body: Form }>('/t/:id/posts', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const form = request.body ?? {}
    const kind = field(form, 'kind') || undefined
    // The staff form always sends its next-update choice (ticked by default):
    // a comment, which makes no promise, leaves it. A status chosen for a
    // comment is refused, with the text kept: it would be lost unseen.
    const official = kind !== 'comment'
    try {
      const post = await createPost(request.deps, request.actor, threadId, {
        body: field(form, 'body'),
        kind,
        // A reply to what is no post is refused, as the API refuses it, not posted as a plain comment.
        replyTo: field(form, 'replyTo') === '' ? null : optionalId(field(form, 'replyTo')) ?? 0,
        status: field(form, 'status') || undefined,
        nextUpdateAt: official ? nextUpdateFrom(form, request.deps.now(), request.deps.timeZone) : null
      }, formIdempotency(request, form))
      return reply.redirect(`/t/${threadId}#p-${post.id}`, 303)
    } catch (err) {
      if (!isFormError(err)) throw err
      if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter))
      return await renderThread(fastify, request, reply.code(err.statusCode), threadId, {}, { composeError: messageOf(request.locale, err), composePromise: err.code === 'invalid_next_update', form })
    }
  })

  fastify.post<{ Params: ThreadParams, Body: Form }>('/t/:id/pin', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const postId = optionalId(field(request.body, 'postId')) ?? 0
    return await moderate(fastify, request, reply, threadId, () => pinPost(request.deps, request.actor, threadId, postId), '#current-state')
  })

  fastify.post<{ Params: ThreadParams, Body: Form }>('/t/:id/unpin', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const postId = optionalId(field(request.body, 'postId'))
    return await moderate(fastify, request, reply, threadId, () => unpinPost(request.deps, request.actor, threadId, { ...(postId !== undefined && { postId }) }))
  })

  fastify.post<{ Params: ThreadParams, Body: Form }>('/t/:id/settings', async (request, reply) => {
    const threadId = parseId(request.params.id, 'thread')
    const form = request.body
    // An unticked box is not sent at all: absent means unlocked.
    const locked = field(form, 'locked') === 'on' ? 'on' : 'off'
    const slowMode = field(form, 'slowModeSeconds').trim()
    // A title left as the page showed it is not sent: a colleague's rename meanwhile stands.
    const title = field(form, 'title')
    return await moderate(fastify, request, reply, threadId, () => updateThread(request.deps, request.actor, threadId, {
      ...(form?.title !== undefined && !unchanged(form, 'title', title) && { title }),
      ...(!unchanged(form, 'locked', locked) && { locked: locked === 'on' }),
      ...(slowMode !== '' && !unchanged(form, 'slowModeSeconds', slowMode) && { slowModeSeconds: Number(slowMode) })
    }), '#settings', { settings: { title, locked: locked === 'on', slowModeSeconds: slowMode } })
  })
}

export default threadPages
