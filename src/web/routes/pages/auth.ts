import { createHmac } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { RateLimitOptions } from '@fastify/rate-limit'
import type { Actor } from '../../../domain/actors.ts'
import { AppError, tooMany } from '../../../domain/errors.ts'
import { PASSWORD_MIN } from '../../../domain/passwords.ts'
import { createUser, verifyCredentials } from '../../../domain/users.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { translate } from '../../i18n.ts'

interface LoginForm { email?: string, password?: string, next?: string }
interface RegisterForm { email?: string, name?: string, password?: string, next?: string }

/**
 * A per-address limit for the forms and calls that check a password. Its
 * refusal is the app's own error, so pages and the API say how long to wait.
 */
export function perAddressLimit (max: number): { rateLimit: RateLimitOptions } {
  return {
    rateLimit: {
      max,
      timeWindow: '1 minute',
      errorResponseBuilder: (_request, context) =>
        tooMany('rate_limited', 'Too many attempts from this address. Try again later.', Math.max(1, Math.ceil(context.ttl / 1000)))
    }
  }
}

const loginLimit = { ...perAddressLimit(20), openForm: true }

/** Remembers, in a signed cookie, which account last signed in from this browser. */
export const KNOWN_BROWSER_COOKIE = 'sitrep_known'
const YEAR_SECONDS = 365 * 24 * 60 * 60
// Keyed with the server's secret: the cookie tells nobody who signed in, not even by guessing addresses.
const accountMark = (secret: string, email: string) => createHmac('sha256', secret).update(email.trim().toLowerCase()).digest('base64url')

export function rememberBrowser (reply: FastifyReply, email: string): void {
  reply.setCookie(KNOWN_BROWSER_COOKIE, accountMark(reply.server.config.sessionSecret, email), { ...reply.server.cookieOptions, signed: true, maxAge: YEAR_SECONDS })
}

/** Whether this account signed in from this browser before (and the cookie saying so is ours). */
export function isKnownBrowser (request: FastifyRequest, email: string): boolean {
  const raw = request.cookies[KNOWN_BROWSER_COOKIE]
  if (raw === undefined) return false
  const { valid, value } = request.unsignCookie(raw)
  return valid && value === accountMark(request.server.config.sessionSecret, email)
}

/** Only a path of this site: never an open redirect. */
export function safeNext (next: unknown): string {
  // Browsers drop tabs and line breaks from addresses: "/\t/evil.example" would leave the site.
  if (typeof next !== 'string' || !/^\/(?![/\\])/.test(next) || /[\s\x00-\x1f\x7f\\]/.test(next)) return '/'
  const url = new URL(next, 'http://sitrep.invalid')
  // As the URL parser writes it: percent-encoded, so it can go in a Location header;
  // and checked again as written ("/..//evil.example" resolves to "//evil.example").
  const path = url.pathname + url.search + url.hash
  return url.origin === 'http://sitrep.invalid' && !path.startsWith('//') ? path : '/'
}

/** A link to the other form (sign in, create an account) that leads back to the same page after. */
const keepingNext = (path: string, next: string): string => next === '/' ? path : `${path}?next=${encodeURIComponent(next)}`

const authPages: FastifyPluginAsync = async (fastify) => {
  const showLogin = (request: FastifyRequest, reply: FastifyReply, form: LoginForm, error?: string, passwordReset: 'new' | 'first' | false = false) =>
    reply.page('login', {
      passwordReset,
      firstPassword: passwordReset === 'first',
      title: translate(request.locale, 'auth.login.title'),
      csrf: csrfToken(request, reply),
      email: form.email ?? '',
      next: safeNext(form.next),
      registerHref: keepingNext('/register', safeNext(form.next)),
      error
    })

  const showRegister = (request: FastifyRequest, reply: FastifyReply, form: RegisterForm, error?: { message: string, code: string }) =>
    reply.page('register', {
      title: translate(request.locale, 'auth.register.title'),
      csrf: csrfToken(request, reply),
      email: form.email ?? '',
      name: form.name ?? '',
      next: safeNext(form.next),
      loginHref: keepingNext('/login', safeNext(form.next)),
      passwordMin: PASSWORD_MIN,
      error: error?.message,
      // The field the refusal is about: marked, and given the focus.
      wrong: error === undefined ? undefined : error.code === 'invalid_name' ? 'name' : error.code.startsWith('password') ? 'password' : 'email'
    })

  // ?reset=1: back from choosing a new password (/password/reset), to sign in
  // with it; ?reset=first: a new account's first, chosen with an admin's link.
  fastify.get<{ Querystring: { next?: string, reset?: string } }>('/login', async (request, reply) =>
    showLogin(request, reply, { next: request.query.next }, undefined, request.query.reset === '1' ? 'new' : request.query.reset === 'first' ? 'first' : false))

  /** The account of the form's e-mail and password, checked within the sign-in limits; null when they do not match. */
  const checkCredentials = async (request: FastifyRequest, form: LoginForm): Promise<Actor | null> => {
    const email = String(form.email ?? '')
    return await fastify.loginAttempts.verify(email, request.network, isKnownBrowser(request, email),
      async () => await verifyCredentials(fastify.db, email, String(form.password ?? '')))
  }
  /** Signs the account in, and back to where the reader came from. */
  const signInAndGo = async (reply: FastifyReply, actor: Actor, form: LoginForm): Promise<FastifyReply> => {
    await reply.signIn(actor)
    rememberBrowser(reply, actor.email)
    return reply.redirect(safeNext(form.next), 303)
  }

  fastify.post<{ Body: LoginForm }>('/login', { config: loginLimit }, async (request, reply) => {
    const form = request.body ?? {}
    const actor = await checkCredentials(request, form)
    if (actor === null) return showLogin(request, reply.code(401), form, translate(request.locale, 'errors.invalid_credentials'))
    return await signInAndGo(reply, actor, form)
  })

  fastify.get<{ Querystring: { next?: string } }>('/register', async (request, reply) => showRegister(request, reply, { next: request.query.next }))

  fastify.post<{ Body: RegisterForm }>('/register', { config: loginLimit }, async (request, reply) => {
    const form = request.body ?? {}
    try {
      const actor = await createUser(fastify.db, {
        email: String(form.email ?? ''),
        name: String(form.name ?? ''),
        password: String(form.password ?? ''),
        role: 'customer'
      }, fastify.deps.now())
      return await signInAndGo(reply, actor, form)
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode >= 500) throw err
      // The account exists, and this is its password: a second click on
      // "Create my account", or someone who forgot they had one. They are
      // signed in, as the sign-in form would (with its limits).
      const existing = err.code === 'email_taken' ? await checkCredentials(request, form) : null
      if (existing !== null) return await signInAndGo(reply, existing, form)
      return showRegister(request, reply.code(err.statusCode), form, { message: translate(request.locale, `errors.${err.code}`), code: err.code })
    }
  })

  // A link or a typed address to /logout: the page offers the button (signing out is a form, with its CSRF token).
  fastify.get<{ Querystring: { done?: string } }>('/logout', async (request, reply) => {
    if (request.actor === null) {
      // Signed out, it says so: on a shared computer, the next person should not find the session open.
      if (request.query.done === '1') return reply.page('logout', { title: translate(request.locale, 'logout.doneTitle'), signedOut: true })
      return reply.redirect('/', 303)
    }
    return reply.page('logout', { title: translate(request.locale, 'logout.title'), csrf: csrfToken(request, reply), name: request.actor.name })
  })

  fastify.post('/logout', { config: { openForm: true } }, async (_request, reply) => {
    await reply.signOut()
    return reply.redirect('/logout?done=1', 303)
  })

  // For the page's own script: a token to send in x-csrf-token with the session cookie.
  fastify.get('/api/v1/csrf', async (request, reply) => ({ token: csrfToken(request, reply) }))
}

export default authPages
