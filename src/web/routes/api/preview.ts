import type { FastifyPluginAsync } from 'fastify'
import { requireSignedIn } from '../../../domain/actors.ts'
import { renderMarkdown } from '../../../domain/markdown.ts'
import { BODY_MAX } from '../../../domain/posts.ts'
import { storable } from '../../../domain/text.ts'
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
    // As it would be stored: a lone surrogate half as U+FFFD, U+0000 refused.
    return { html: renderMarkdown(storable(request.body.body)) }
  })
}

export default previewRoutes
