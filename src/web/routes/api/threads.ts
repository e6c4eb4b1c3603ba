import type { FastifyPluginAsync } from 'fastify'
import { listPosts, createPost, type NewPost, type PostQuery } from '../../../domain/posts.ts'
import { createThread, getThread, listIncidents, pinPost, unpinPost, updateThread, type NewThread, type ThreadPatch } from '../../../domain/threads.ts'
import { overloaded } from '../../../domain/errors.ts'
import { SHED_RETRY_AFTER } from '../../plugins/app/pressure.ts'
import { idempotencyOf } from './idempotency.ts'
import { type IdParams, answers, idParams, listOf, nullableString, postResponse, threadResponse } from './schemas.ts'

/** Resolved incidents in one answer of GET /threads, unless it asks for fewer. */
const THREADS_LIMIT = 500

const threadsRoutes: FastifyPluginAsync = async (fastify) => {
  // Open incidents, all of them, then resolved ones a page at a time: with
  // more to come, a Link header names the next page (?before= its cursor).
  fastify.get<{ Querystring: { before?: string, limit?: number } }>('/threads', {
    schema: {
      querystring: {
        type: 'object',
        properties: { before: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: THREADS_LIMIT } }
      },
      response: answers({ 200: listOf('threads', threadResponse) })
    }
  }, async (request, reply) => {
    const { before, limit = THREADS_LIMIT } = request.query
    const page = await listIncidents(fastify.db, { before, limit, withOpen: before === undefined })
    if (page.next !== null) reply.header('link', `</api/v1/threads?before=${page.next}&limit=${limit}>; rel="next"`)
    return { threads: [...page.open, ...page.resolved] }
  })

  fastify.post<{ Body: NewThread }>('/threads', {
    schema: {
      body: {
        type: 'object',
        required: ['title', 'body'],
        properties: { title: { type: 'string' }, body: { type: 'string' }, status: { type: 'string' }, nextUpdateAt: nullableString }
      },
      response: answers({ 201: threadResponse })
    }
  }, async (request, reply) => {
    const thread = await createThread(request.deps, request.actor, request.body, idempotencyOf(request))
    return await reply.code(201).send(thread)
  })

  // Also what a page asks about once a minute where no live socket gets
  // through: while the process is overloaded, anonymous callers wait, as page
  // renders and new sockets do.
  fastify.get<{ Params: IdParams }>('/threads/:id', { schema: { params: idParams, response: answers({ 200: threadResponse }) } }, async (request) => {
    if (request.actor === null && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
    return await getThread(fastify.db, request.params.id)
  })

  fastify.patch<{ Params: IdParams, Body: ThreadPatch }>('/threads/:id', {
    schema: {
      params: idParams,
      body: {
        type: 'object',
        properties: {
          status: { type: 'string' },
          locked: { type: 'boolean' },
          slowModeSeconds: { type: 'integer' },
          cadenceMinutes: { type: ['integer', 'null'] },
          title: { type: 'string' },
          crisisMode: { type: 'boolean' },
          crisisReadOnly: { type: 'boolean' }
        }
      },
      response: answers({ 200: threadResponse })
    }
  }, async (request) => await updateThread(request.deps, request.actor, request.params.id, request.body))

  fastify.get<{ Params: IdParams, Querystring: PostQuery }>('/threads/:id/posts', {
    schema: {
      params: idParams,
      querystring: {
        type: 'object',
        properties: {
          after: { type: 'integer', minimum: 0, maximum: 2_147_483_647 },
          limit: { type: 'integer', minimum: 1, maximum: 200 },
          kind: { type: 'string', enum: ['update', 'comment'] }
        }
      },
      response: answers({ 200: listOf('posts', postResponse) })
    }
  }, async (request) => {
    // What an official-only page asks where no live socket gets through: shed for anonymous callers, as above.
    if (request.actor === null && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
    return { posts: await listPosts(fastify.db, request.params.id, request.query, request.actor) }
  })

  fastify.post<{ Params: IdParams, Body: NewPost }>('/threads/:id/posts', {
    schema: {
      params: idParams,
      body: {
        type: 'object',
        required: ['body'],
        properties: {
          body: { type: 'string' },
          kind: { type: 'string' },
          replyTo: { anyOf: [{ type: 'integer', minimum: 1, maximum: 2_147_483_647 }, { type: 'null' }] },
          status: nullableString,
          nextUpdateAt: nullableString
        }
      },
      response: answers({ 201: postResponse })
    }
  }, async (request, reply) => {
    const post = await createPost(request.deps, request.actor, request.params.id, request.body, idempotencyOf(request))
    return await reply.code(201).send(post)
  })

  fastify.put<{ Params: IdParams, Body: { postId: number } }>('/threads/:id/pin', {
    schema: {
      params: idParams,
      body: { type: 'object', required: ['postId'], properties: { postId: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } },
      response: answers({ 200: threadResponse })
    }
  }, async (request) => await pinPost(request.deps, request.actor, request.params.id, request.body.postId))

  fastify.delete<{ Params: IdParams }>('/threads/:id/pin', { schema: { params: idParams, response: answers({ 200: threadResponse }) } },
    async (request) => await unpinPost(request.deps, request.actor, request.params.id))
}

export default threadsRoutes
