import AjvCompiler from '@fastify/ajv-compiler'
import rateLimit from '@fastify/rate-limit'
import fastifyStatic from '@fastify/static'
import querystring from 'fast-querystring'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { type IncomingMessage, type RequestListener, type ServerResponse, createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { FastifyValidationResult } from 'fastify/types/schema.js'
import type { Config } from './config.ts'
import type { DatabaseHandle } from './db/connect.ts'
import { type Deps, makeDeps, withPublished } from './domain/deps.ts'
import { overloaded } from './domain/errors.ts'
import type { ThreadEvent } from './live/events.ts'
import authPlugin, { isSecretAddress } from './web/plugins/app/auth.ts'
import errorsPlugin, { answerClientError, sendFrameworkError } from './web/plugins/app/errors.ts'
import livePlugin, { type LivePluginOptions } from './web/plugins/app/live.ts'
import pageCachePlugin, { type PageCacheOptions } from './web/plugins/app/page-cache.ts'
import pressurePlugin, { type PressureOptions } from './web/plugins/app/pressure.ts'
import viewsPlugin from './web/plugins/app/views.ts'
import databasePlugin from './web/plugins/external/database.ts'
import securityPlugin from './web/plugins/external/security.ts'
import shiftsPlugin from './web/plugins/app/shifts.ts'
import housekeepingPlugin from './web/plugins/app/housekeeping.ts'
import followMailPlugin, { type FollowMailOptions } from './web/plugins/app/follow-mail.ts'
import apiRoutes from './web/routes/api/index.ts'
import healthRoutes from './web/routes/health.ts'
import authPages from './web/routes/pages/auth.ts'
import forumPages from './web/routes/pages/index.ts'
import feedRoutes from './web/routes/feeds.ts'
import liveRoutes from './web/routes/live.ts'
import { networkOf } from './web/networks.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    deps: Deps
  }
  interface FastifyRequest {
    /** The client as the per-address limits count it (`networkOf`): its address, or its IPv6 /64. */
    network: string
    /** The app's deps, for what this request writes: the page cache learns what it wrote (`pageCache.wrote`). */
    deps: Deps
  }
}

const REQUEST_DEPS = Symbol('request deps')

const SLASH = '/'.charCodeAt(0)
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]+)([^#]*)$/i

/**
 * An absolute-form request target (`GET http://host/t/1`, RFC 9112, 3.2.2),
 * as clients set up for a proxy send it, made the origin form every route
 * expects: its path and query are what is asked, its authority the host.
 */
function toOriginForm (request: IncomingMessage): void {
  if (request.url!.charCodeAt(0) === SLASH) return
  const match = ABSOLUTE_FORM.exec(request.url!)
  if (match === null) return
  const [, authority, rest] = match as unknown as [string, string, string]
  request.headers.host = authority
  request.url = rest.startsWith('/') ? rest : `/${rest}`
}

export interface AppOptions {
  /** The clock; tests move it instead of sleeping. */
  now?: () => Date
  /** A pino logger; none by default (tests). */
  logger?: FastifyBaseLogger
  /** Per-user posting limits for customers; the domain's by default. */
  postingLimits?: Deps['postingLimits']
  /** Called with each committed transaction's events, after the live hub. */
  onEvents?: (events: ThreadEvent[]) => void
  live?: LivePluginOptions
  /** The anonymous page cache; on unless the config (PAGE_CACHE=off) or this says otherwise. */
  pageCache?: PageCacheOptions
  /** When readers are shed (tests force it). */
  pressure?: PressureOptions
  /** The e-mails to followers of incidents (tests send them when they choose). */
  followMail?: FollowMailOptions
  /** An open database to share (e.g. two instances in one test); the caller closes it. */
  database?: DatabaseHandle
}

export const STATIC_DIR = fileURLToPath(new URL('../static/', import.meta.url))
export const BODY_LIMIT = 256 * 1024
/** Seconds a client is asked to wait before trying a stopping instance's request again. */
const STOPPING_RETRY_AFTER = 1

/** Builds the whole app: external plugins, then the app's own, then routes. */
const validators = AjvCompiler()
const AJV_OPTIONS = { removeAdditional: false, allErrors: false } as const

/**
 * A JSON body is read as typed: a `null` stays null, where coercion would
 * make it "", 0 or false (a thread unlocked by `"locked": null`). The URL's
 * parts are strings, coerced to their schema's types.
 */
const buildValidator: AjvCompiler.ValidatorFactory = (externalSchemas) => {
  const fromUrl = validators(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } })
  const fromBody = validators(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: false } })
  // Fastify takes any validating function with its errors beside it; the factory's type names Ajv's own.
  return (route) => route.httpPart === 'body' ? fromBody({ ...route, schema: closed(route.schema) }) : wholeNumbersInDigits(route.schema, fromUrl(route)) as ReturnType<typeof fromUrl>
}

/**
 * A JSON body takes the fields its schema names, and no other: a field
 * misspelt (`nextUpdate` for `nextUpdateAt`) is refused, not left unread while
 * the post goes out promising nothing.
 */
function closed<T> (schema: T): T {
  if (typeof schema !== 'object' || schema === null) return schema
  const object = schema as Record<string, unknown>
  return object.type === 'object' && object.properties !== undefined && !('additionalProperties' in object) ? { ...schema, additionalProperties: false } : schema
}

/**
 * A whole number in the URL is written in digits, fifteen at most (any more
 * is past every bound, and 309 of them read as infinite). Ajv's coercion would
 * read "Infinity", "1e400", "0x10" or " 1" as numbers too, and an infinite one
 * passes the schema's bounds (a database error later, not a 400): such a part
 * is refused as "abc" is, before the schema's own checks.
 */
function wholeNumbersInDigits (schema: unknown, validate: FastifyValidationResult): FastifyValidationResult {
  const properties = (schema as { properties?: Record<string, { type?: unknown, anyOf?: Array<{ type?: unknown }> }> }).properties ?? {}
  const integers = Object.keys(properties).filter((key) => {
    const property = properties[key]!
    return property.type === 'integer' || property.anyOf?.some((choice) => choice.type === 'integer') === true
  })
  if (integers.length === 0) return validate
  const checked: FastifyValidationResult = (data: Record<string, unknown> | null) => {
    for (const key of integers) {
      const value = data?.[key]
      const written = Array.isArray(value) ? value : [value]
      if (written.some((part) => typeof part === 'string' && !/^-?[0-9]{1,15}$/.test(part))) {
        checked.errors = [{ keyword: 'type', instancePath: `/${key}`, schemaPath: `#/properties/${key}/type`, params: { type: 'integer' }, message: 'must be integer' }]
        return false
      }
    }
    const valid = validate(data)
    checked.errors = validate.errors
    return valid
  }
  return checked
}

/**
 * A query string as Fastify reads it, less its empty values: `?after=&limit=`,
 * a template filled with nothing, asks for the defaults, as leaving them out does.
 */
function parseQuery (query: string): Record<string, unknown> {
  const parsed = querystring.parse(query)
  for (const name in parsed) if (parsed[name] === '') delete parsed[name]
  return parsed
}

export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const now = options.now ?? (() => new Date())
  let frontDoor: (request: IncomingMessage, response: ServerResponse, fallback: RequestListener) => boolean = () => false
  const app = Fastify({
    // Node's server as Fastify makes it, with the page cache's front door
    // before Fastify: a flash crowd's fresh cached pages are answered there.
    serverFactory: (handler) => {
      const server = createServer((request, response) => {
        toOriginForm(request)
        if (!frontDoor(request, response, handler)) handler(request, response)
      })
      // A WebSocket upgrade comes by its own event: its target is read the same way.
      server.on('upgrade', toOriginForm)
      // Fastify's own settings for the servers it makes.
      server.keepAliveTimeout = 72_000
      server.requestTimeout = 0
      server.setTimeout(0)
      return server
    },
    ...(options.logger !== undefined ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    // Behind a proxy, the client's address (for the per-address limits) is the one it forwards.
    ...(config.trustProxy !== undefined && { trustProxy: config.trustProxy }),
    // The embedded database takes a while to start on a busy machine.
    pluginTimeout: 120_000,
    logController: new LogController({ disableRequestLogging: true }),
    // Stopping, an instance answers in the contract's shape (below), not Fastify's.
    return503OnClosing: false,
    // At shutdown, idle connections close at once and requests under way are
    // answered before the database goes: a technician's post sent as the
    // instance stops gets its answer (src/server.ts bounds the wait).
    forceCloseConnections: 'idle',
    schemaController: { compilersFactory: { buildValidator } },
    routerOptions: { querystringParser: parseQuery },
    // An address the router cannot read ("/%", a parameter too long) is bad input, in the contract's shape.
    frameworkErrors: (error, request, reply) => sendFrameworkError(error, request, reply as FastifyReply),
    // So is what Node's HTTP parser refuses before the router (a header too large, a malformed request).
    clientErrorHandler: answerClientError
  })
  app.decorate('config', config)
  // The per-address limits count a client by its network (an IPv6 client's /64).
  app.decorateRequest('network', { getter (this: FastifyRequest) { return networkOf(this.ip) } })

  // One line per request, with nothing secret in it: no headers, no bodies.
  app.addHook('onResponse', async (request, reply) => {
    // A signed link's address is its secret: its route's pattern is logged instead.
    const url = isSecretAddress(request) ? request.routeOptions.url : request.url.split('?')[0]
    request.log.info({ method: request.method, url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })

  // A request that comes on an open connection once the instance is stopping
  // is told to try again (503, Retry-After, in the contract's shape), and the
  // connection is closed: the client's next try reaches another instance.
  let stopping = false
  app.addHook('preClose', (done) => { stopping = true; done() })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!stopping) return done()
    reply.header('connection', 'close')
    done(overloaded(STOPPING_RETRY_AFTER))
  })

  await app.register(databasePlugin, { config, ...(options.database !== undefined && { database: options.database }) })
  await app.register(livePlugin, options.live ?? {})
  app.decorate('deps', makeDeps(app.db, {
    now,
    timeZone: config.tzDisplay,
    ...(options.postingLimits !== undefined && { postingLimits: options.postingLimits }),
    publish: (events) => {
      app.hub.publish(events)
      for (const event of events) app.pageCache.dropThread(event.threadId, event.seq)
      options.onEvents?.(events)
    },
    dutyChanged: () => app.pageCache.dropAll(),
    readerActed: (userId) => app.pageCache.readerActed(userId)
  }))
  // Made when first asked for, by a route: no cost to the requests answered without.
  app.decorateRequest(REQUEST_DEPS, null)
  app.decorateRequest('deps', {
    getter (this: FastifyRequest) {
      const request = this as FastifyRequest & { [REQUEST_DEPS]: Deps | null }
      return request[REQUEST_DEPS] ??= withPublished(app.deps, (events) => { app.pageCache.wrote(request, events) })
    }
  })
  await app.register(securityPlugin, { config })
  // Before the session, CSRF, shift and pressure hooks: a cached page for an anonymous reader needs none of them.
  await app.register(pageCachePlugin, { enabled: config.pageCache, ...options.pageCache })
  frontDoor = app.pageCache.frontDoor
  // Counted by network, as the other per-address limits; a request whose
  // connection is already gone (no address) is counted with the others like it.
  await app.register(rateLimit, { global: false, keyGenerator: (request) => request.network })
  await app.register(fastifyStatic, { root: STATIC_DIR, prefix: '/static/', maxAge: '1h' })

  await app.register(authPlugin, { now })
  await app.register(viewsPlugin)
  await app.register(errorsPlugin)
  await app.register(shiftsPlugin)
  await app.register(followMailPlugin, options.followMail ?? {})
  await app.register(housekeepingPlugin)
  await app.register(pressurePlugin, options.pressure ?? {})
  // Events committed by other instances make this one's cached pages stale too.
  app.hub.onNotify((threadId, seq) => app.pageCache.dropThread(threadId, seq))

  await app.register(healthRoutes)
  await app.register(authPages)
  await app.register(forumPages)
  await app.register(feedRoutes)
  await app.register(liveRoutes)
  await app.register(apiRoutes, { prefix: '/api/v1' })
  return app
}
