import rateLimit from '@fastify/rate-limit'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import { fileURLToPath } from 'node:url'
import type { Config } from './config.ts'
import { type Deps, makeDeps } from './domain/deps.ts'
import type { ThreadEvent } from './live/events.ts'
import authPlugin from './web/plugins/app/auth.ts'
import errorsPlugin from './web/plugins/app/errors.ts'
import viewsPlugin from './web/plugins/app/views.ts'
import databasePlugin from './web/plugins/external/database.ts'
import securityPlugin from './web/plugins/external/security.ts'
import apiRoutes from './web/routes/api/index.ts'
import healthRoutes from './web/routes/health.ts'
import authPages from './web/routes/pages/auth.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    deps: Deps
  }
}

export interface AppOptions {
  /** The clock; tests move it instead of sleeping. */
  now?: () => Date
  logger?: FastifyServerOptions['logger']
  /** Called with each committed transaction's events. */
  onEvents?: (events: ThreadEvent[]) => void
}

export const STATIC_DIR = fileURLToPath(new URL('../static/', import.meta.url))
export const BODY_LIMIT = 256 * 1024

/** Builds the whole app: external plugins, then the app's own, then routes. */
export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const now = options.now ?? (() => new Date())
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } }
  })
  app.decorate('config', config)

  // One line per request, with nothing secret in it: no headers, no bodies.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })

  await app.register(databasePlugin, { config })
  app.decorate('deps', makeDeps(app.db, {
    now,
    timeZone: config.tzDisplay,
    publish: (events) => options.onEvents?.(events)
  }))
  await app.register(securityPlugin, { config })
  await app.register(rateLimit, { global: false })
  await app.register(fastifyStatic, { root: STATIC_DIR, prefix: '/static/', maxAge: '1h' })

  await app.register(authPlugin, { config, now })
  await app.register(viewsPlugin)
  await app.register(errorsPlugin)

  await app.register(healthRoutes)
  await app.register(authPages)
  await app.register(apiRoutes, { prefix: '/api/v1' })
  return app
}
