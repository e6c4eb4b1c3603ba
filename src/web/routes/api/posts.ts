import type { FastifyPluginAsync } from 'fastify'
import { editPost, getPost, hidePost, listRevisions, restorePost } from '../../../domain/posts.ts'
import { idempotencyOf } from './idempotency.ts'
import { type IdParams, answers, idParams, listOf, postResponse, revisionResponse } from './schemas.ts'

const postsRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get<{ Params: IdParams }>('/posts/:id', { schema: { params: idParams, response: answers({ 200: postResponse }) } },
    async (request) => await getPost(fastify.db, request.params.id, request.actor))

  fastify.patch<{ Params: IdParams, Body: { body: string } }>('/posts/:id', {
    schema: { params: idParams, body: { type: 'object', required: ['body'], properties: { body: { type: 'string' } } }, response: answers({ 200: postResponse }) }
  }, async (request) => await editPost(request.deps, request.actor, request.params.id, request.body))

  fastify.post<{ Params: IdParams, Body: { reason: string } }>('/posts/:id/hide', {
    schema: { params: idParams, body: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } }, response: answers({ 200: postResponse }) }
  }, async (request) => await hidePost(request.deps, request.actor, request.params.id, request.body, idempotencyOf(request)))

  fastify.post<{ Params: IdParams }>('/posts/:id/restore', { schema: { params: idParams, response: answers({ 200: postResponse }) } },
    async (request) => await restorePost(request.deps, request.actor, request.params.id, idempotencyOf(request)))

  fastify.get<{ Params: IdParams }>('/posts/:id/revisions', { schema: { params: idParams, response: answers({ 200: listOf('revisions', revisionResponse) }) } },
    async (request) => ({ revisions: await listRevisions(fastify.db, request.actor, request.params.id) }))
}

export default postsRoutes
