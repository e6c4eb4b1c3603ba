import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { forbidden } from '../../../domain/errors.ts'
import { amongLatest, editPost, getPost, hidePost, restorePost } from '../../../domain/posts.ts'
import { getThread } from '../../../domain/threads.ts'
import type { Post } from '../../../domain/views.ts'
import { translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { type Form, PAGE_SIZE, field, isFormError, messageOf, parseId, threadPath } from './shared.ts'
import { mayEdit, moderate, viewerOf } from './thread-page.ts'

interface PostParams { id: string }

const postPages: FastifyPluginAsync = async (fastify) => {
  const { db } = fastify

  const showEditForm = async (request: FastifyRequest, reply: FastifyReply, post: Post, body: string, error?: string, changed = false) => {
    const thread = await getThread(db, post.threadId)
    return reply.page('edit-post', {
      title: translate(request.locale, 'editPost.title'),
      here: `/posts/${post.id}/edit`,
      csrf: csrfToken(request, reply),
      post,
      thread,
      threadHref: `${threadPath(thread)}#p-${post.id}`,
      body,
      error,
      // Changed by someone else while this form was open: the post as it is now, beside the text kept in the form.
      current: changed ? post.html ?? '' : undefined
    })
  }

  // A post's own address: the stretch of its thread it is on, the latest or
  // the one ending with it. Links to a post go through it, so that one far
  // back in a long thread is found, and it is the one to share.
  const postAddress = async (post: Post): Promise<string> => {
    const stretch = await amongLatest(db, post.threadId, post.id, PAGE_SIZE) ? '' : `?before=${post.id + 1}`
    return `/t/${post.threadId}${stretch}#p-${post.id}`
  }

  fastify.get<{ Params: PostParams }>('/posts/:id', async (request, reply) => {
    const post = await getPost(db, parseId(request.params.id, 'post'), request.actor)
    return reply.redirect(await postAddress(post), 303)
  })

  fastify.get<{ Params: PostParams }>('/posts/:id/edit', async (request, reply) => {
    const postId = parseId(request.params.id, 'post')
    if (request.actor === null) return reply.redirect(`/login?next=/posts/${postId}/edit`, 303)
    const post = await getPost(db, postId, request.actor)
    const thread = await getThread(db, post.threadId)
    // The form is offered to whoever may send it; editPost still decides.
    if (!mayEdit(viewerOf(request.actor, thread), post)) {
      if (post.hidden && post.author.id === request.actor.id) throw forbidden('edit_hidden', 'This post is hidden: only a moderator may edit it.')
      throw forbidden('not_author', 'Only its author or a moderator may edit this post.')
    }
    return await showEditForm(request, reply, post, post.body ?? '')
  })

  fastify.post<{ Params: PostParams, Body: Form }>('/posts/:id/edit', async (request, reply) => {
    const postId = parseId(request.params.id, 'post')
    const body = field(request.body, 'body')
    try {
      const post = await editPost(request.deps, request.actor, postId, { body, editedAt: field(request.body, 'editedAt') || null })
      return reply.redirect(await postAddress(post), 303)
    } catch (err) {
      if (!isFormError(err) || err.statusCode === 403) throw err
      if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter))
      return await showEditForm(request, reply.code(err.statusCode), await getPost(db, postId, request.actor), body, messageOf(request.locale, err), err.code === 'edited_meanwhile')
    }
  })

  fastify.post<{ Params: PostParams, Body: Form }>('/posts/:id/hide', async (request, reply) => {
    const post = await getPost(db, parseId(request.params.id, 'post'), request.actor)
    // Hiding the current state takes it off the top: the page says so, or the moderator may not see that readers now have none.
    const pinned = (await getThread(db, post.threadId)).pinnedPostId === post.id
    return await moderate(fastify, request, reply, post.threadId,
      () => hidePost(request.deps, request.actor, post.id, { reason: field(request.body, 'reason') }), `#p-${post.id}`,
      {}, pinned ? `unpinned=${post.id}` : undefined)
  })

  fastify.post<{ Params: PostParams }>('/posts/:id/restore', async (request, reply) => {
    const post = await getPost(db, parseId(request.params.id, 'post'), request.actor)
    return await moderate(fastify, request, reply, post.threadId, () => restorePost(request.deps, request.actor, post.id), `#p-${post.id}`)
  })
}

export default postPages
