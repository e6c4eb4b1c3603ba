import type { FastifyPluginAsync } from 'fastify'
import { requireSignedIn } from '../../../domain/actors.ts'
import { renderMarkdown } from '../../../domain/markdown.ts'
import { BODY_MAX } from '../../../domain/posts.ts'
import { answers, htmlResponse } from './schemas.ts'

/** The HTML a post's Markdown would become, before posting it: signed-in users only. */
const previewRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.post<{ Body: { body: string } }>('/preview', {
    schema: {
      body: { type: 'object', required: ['body'], properties: { body: { type: 'string', maxLength: BODY_MAX } } },
      response: answers({ 200: htmlResponse })
    }
  }, async (request) => {
    requireSignedIn(request.actor)
    return { html: renderMarkdown(request.body.body) }
  })
}

export default previewRoutes
