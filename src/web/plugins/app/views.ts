import fp from 'fastify-plugin'
import { type Locale, pickLocale } from '../../i18n.ts'
import { type Views, loadViews } from '../../views.ts'

declare module 'fastify' {
  interface FastifyInstance {
    views: Views
  }
  interface FastifyRequest {
    locale: Locale
  }
  interface FastifyReply {
    /** Renders a page in the request's language and sends it as HTML. */
    page: (name: string, context?: Record<string, unknown>) => FastifyReply
  }
}

export default fp(async (fastify) => {
  const views = loadViews()
  fastify.decorate('views', views)
  fastify.decorateRequest('locale', 'en')
  // After auth, so a signed-in user's preferred language counts.
  fastify.addHook('onRequest', async (request) => {
    request.locale = pickLocale(request)
  })
  fastify.decorateReply('page', function (name: string, context: Record<string, unknown> = {}) {
    const html = views.page(name, { ...context, locale: this.request.locale, actor: this.request.actor })
    return this.type('text/html; charset=utf-8').send(html)
  })
}, { name: 'views', dependencies: ['auth'] })
