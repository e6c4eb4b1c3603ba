import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isDatabaseAway } from '../../../db/connect.ts'
import type { Actor } from '../../../domain/actors.ts'
import { LoginAttempts } from '../../../domain/login-attempts.ts'
import { KeptCredentials } from '../../../domain/kept-credentials.ts'
import { type ActiveSession, SESSION_ABSOLUTE_MS, TOUCH_EVERY_MS, createSession, endSession, resumeSession } from '../../../domain/sessions.ts'
import { type ActiveToken, TOKEN_TOUCH_EVERY_MS, resumeApiToken } from '../../../domain/tokens.ts'
import { setPreferredLocale } from '../../../domain/users.ts'
import { sendError } from './errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * An address that carries its own proof (a signed link from an e-mail):
     * its form, posted from a mail client as well as from its page, takes no
     * CSRF token and acts with no session; the address is a secret, kept out
     * of the logs.
     */
    signedLink?: boolean
    /** An address that is a secret (a link to choose a password) but whose form takes a CSRF token: kept out of the logs too. */
    secretPath?: boolean
    /**
     * A form a signed-out reader sends too (signing in, registering, a
     * forgotten password). Any other form comes from a page rendered for a
     * signed-in reader: sent without a session, theirs ended meanwhile.
     */
    openForm?: boolean
  }
  interface FastifyInstance {
    /** Failed sign-ins per account and address, checked before any password is hashed. */
    loginAttempts: LoginAttempts
    /**
     * The session kept in memory for a session cookie's token, when it may
     * serve a read without asking the database (see `KeptCredentials`).
     */
    keptSession: (token: string) => ActiveSession | undefined
    /** Drops what is kept of a user's sessions and tokens: the next request reads them again. */
    forgetKeptUser: (userId: number) => void
  }
  interface FastifyRequest {
    /** The signed-in user, or null for an anonymous reader. */
    actor: Actor | null
    /** How the actor was recognised: a cookie needs CSRF checks, a bearer token does not. */
    authVia: 'session' | 'token' | null
    /** The stored id (a hash) of the request's session, when it has one. */
    sessionId: string | null
  }
  interface FastifyContextConfig {
    /** A route that answers the same to anyone (the health checks): credentials sent to it are not even read. */
    anyone?: boolean
  }
  interface FastifyReply {
    signIn: (actor: Actor) => Promise<void>
    signOut: () => Promise<void>
  }
}

export const SESSION_COOKIE = 'sitrep_session'
/** Requests that may change something: their session is read from the database, and CSRF-checked. */
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface AuthPluginOptions { now: () => Date }

export default fp<AuthPluginOptions>(async (fastify, { now }) => {
  const cookieOptions = { ...fastify.cookieOptions, maxAge: Math.floor(SESSION_ABSOLUTE_MS / 1000) }

  fastify.decorate('loginAttempts', new LoginAttempts(now))
  const { notifications } = fastify
  // Sessions and API tokens already checked, kept until their last use is due
  // to be written again, and dropped when the database announces a change.
  const listening = () => notifications.listening
  const sessions = new KeptCredentials<ActiveSession>(listening, (session, now) =>
    now.getTime() - session.lastSeenAt.getTime() <= TOUCH_EVERY_MS && now.getTime() - session.createdAt.getTime() <= SESSION_ABSOLUTE_MS)
  const tokens = new KeptCredentials<ActiveToken>(listening, (token, now) => now.getTime() - token.lastUsedAt.getTime() <= TOKEN_TOUCH_EVERY_MS)
  const kept = [sessions, tokens]
  fastify.decorate('keptSession', (token: string) => sessions.get(token, now()))
  fastify.decorate('forgetKeptUser', (userId: number) => { for (const credentials of kept) credentials.dropUser(userId) })
  notifications.onUserChanged((userId) => {
    for (const credentials of kept) {
      if (userId !== null) credentials.dropUser(userId)
      else credentials.dropAll()
    }
  })
  const dropEverything = () => { for (const credentials of kept) credentials.dropAll() }
  notifications.onListening(dropEverything)
  notifications.onLost(dropEverything)
  // The announcement of a change comes a moment after its commit: the next
  // page on this instance must already show it. A request that may have
  // changed something drops, before its answer goes, what is kept of the
  // session it came with and of its user (a new language, a sign-out, a new
  // password) and, an admin's, of everyone (a role changed).
  fastify.addHook('onSend', (request, _reply, payload, done) => {
    if (UNSAFE.has(request.method)) {
      // No cookies when the request was refused before they were read (a bad address).
      const token = request.cookies?.[SESSION_COOKIE]
      if (token !== undefined) sessions.forget(token)
      const actor = request.actor
      for (const credentials of kept) {
        if (actor?.role === 'admin') credentials.dropAll()
        else if (actor !== null) credentials.dropUser(actor.id)
      }
    }
    done(null, payload)
  })
  fastify.decorateRequest('actor', null)
  fastify.decorateRequest('authVia', null)
  fastify.decorateRequest('sessionId', null)

  const withToken = (request: FastifyRequest, reply: FastifyReply, token: ActiveToken | null): FastifyReply | undefined => {
    if (token === null) return sendError(request, reply, { statusCode: 401, code: 'invalid_token', message: 'The API token is not valid.' })
    request.actor = token.actor
    request.authVia = 'token'
  }
  const withSession = (request: FastifyRequest, reply: FastifyReply, session: ActiveSession | null): void => {
    if (session === null) {
      reply.clearCookie(SESSION_COOKIE, { path: '/' })
      return
    }
    request.actor = session.actor
    request.authVia = 'session'
    request.sessionId = session.sessionId
  }
  // A reader whose session (or script whose token) is kept goes on at once;
  // only a lookup in the database waits.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.anyone === true) return done()
    const at = now()
    const reads = !UNSAFE.has(request.method)
    const authorization = request.headers.authorization
    if (authorization !== undefined) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1]
      const kept = bearer === undefined || !reads ? undefined : tokens.get(bearer, at)
      if (kept !== undefined) {
        withToken(request, reply, kept)
        return done()
      }
      const lookUp = () => bearer === undefined ? Promise.resolve(null) : resumeApiToken(fastify.db, bearer, at)
      ;(bearer === undefined || !reads ? lookUp() : tokens.lookUp(bearer, lookUp))
        .then((token) => { if (withToken(request, reply, token) === undefined) done() }, done)
      return
    }
    const token = request.cookies[SESSION_COOKIE]
    if (token === undefined) return done()
    const kept = reads ? sessions.get(token, at) : undefined
    if (kept !== undefined) {
      withSession(request, reply, kept)
      return done()
    }
    const lookUp = () => resumeSession(fastify.db, token, at)
    ;(reads ? sessions.lookUp(token, lookUp) : lookUp())
      .then((session) => {
        withSession(request, reply, session)
        done()
      }, (err: unknown) => {
        // While the database is away (this instance has lost its LISTEN
        // connection too: not a pool only busy), a signed-in reader still gets
        // the pages kept for everyone (a thread, the incidents), as a visitor
        // sees them, not an error: whoever they are cannot be checked, and
        // nothing can be written meanwhile anyway.
        const away = !fastify.notifications.listening && isDatabaseAway(err)
        if (away && reads && request.routeOptions.config.cachedPage !== undefined) return done()
        done(err as Error)
      })
  })

  // Anything that changes state with the cookie's authority must prove it came
  // from our own pages. Bearer tokens are not sent by browsers on their own.
  fastify.addHook('preHandler', (request, reply, done) => {
    if (!UNSAFE.has(request.method) || request.authVia === 'token' || request.routeOptions.config.signedLink === true) return done()
    if (request.url.startsWith('/api/') && request.authVia !== 'session') return done()
    fastify.csrfProtection(request, reply, done)
  })

  fastify.decorateReply('signIn', async function (this: FastifyReply, actor: Actor) {
    // A new session id at every sign-in: a planted cookie never becomes a session.
    const old = this.request.cookies[SESSION_COOKIE]
    if (old !== undefined) await endSession(fastify.db, old)
    // An account that never chose a language takes the one its reader reads
    // in: its e-mails (overdue alerts) come in it too.
    if (actor.locale === null) actor = await setPreferredLocale(fastify.db, actor, this.request.locale)
    const session = await createSession(fastify.db, actor.id, now())
    this.setCookie(SESSION_COOKIE, session.token, cookieOptions)
    this.request.actor = actor
    this.request.authVia = 'session'
    this.request.sessionId = session.id
  })

  fastify.decorateReply('signOut', async function (this: FastifyReply) {
    const token = this.request.cookies[SESSION_COOKIE]
    if (token !== undefined) await endSession(fastify.db, token)
    this.clearCookie(SESSION_COOKIE, { path: '/' })
    this.request.actor = null
    this.request.authVia = null
    this.request.sessionId = null
  })
}, { name: 'auth', dependencies: ['database', 'security'] })

/**
 * An address that is a secret sent to someone (`signedLink`, `secretPath`):
 * the log names its route, not it; its `lang` is the sender's guess.
 */
export function isSecretAddress (request: FastifyRequest): boolean {
  const { signedLink, secretPath } = request.routeOptions.config
  return signedLink === true || secretPath === true
}

export function csrfToken (request: FastifyRequest, reply: FastifyReply): string {
  return reply.generateCsrf({ userInfo: request.sessionId ?? 'anonymous' })
}
