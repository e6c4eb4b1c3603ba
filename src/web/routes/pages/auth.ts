import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../../../domain/errors.ts'
import { createUser, verifyCredentials } from '../../../domain/users.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { translate } from '../../i18n.ts'

interface LoginForm { email?: string, password?: string, next?: string }
interface RegisterForm { email?: string, name?: string, password?: string, next?: string }

const loginLimit = { rateLimit: { max: 20, timeWindow: '1 minute' } }

/** Only a path of this site: never an open redirect. */
export function safeNext (next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/'
}

const authPages: FastifyPluginAsync = async (fastify) => {
  const showLogin = (request: FastifyRequest, reply: FastifyReply, form: LoginForm, error?: string) =>
    reply.page('login', {
      title: translate(request.locale, 'auth.login.title'),
      csrf: csrfToken(request, reply),
      email: form.email ?? '',
      next: safeNext(form.next),
      error
    })

  const showRegister = (request: FastifyRequest, reply: FastifyReply, form: RegisterForm, error?: string) =>
    reply.page('register', {
      title: translate(request.locale, 'auth.register.title'),
      csrf: csrfToken(request, reply),
      email: form.email ?? '',
      name: form.name ?? '',
      next: safeNext(form.next),
      error
    })

  fastify.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => showLogin(request, reply, { next: request.query.next }))

  fastify.post<{ Body: LoginForm }>('/login', { config: loginLimit }, async (request, reply) => {
    const form = request.body ?? {}
    const email = String(form.email ?? '')
    fastify.loginAttempts.check(email, request.ip)
    const actor = await verifyCredentials(fastify.db, email, String(form.password ?? ''))
    if (actor === null) {
      fastify.loginAttempts.failed(email, request.ip)
      return showLogin(request, reply.code(401), form, translate(request.locale, 'errors.invalid_credentials'))
    }
    fastify.loginAttempts.succeeded(email, request.ip)
    await reply.signIn(actor)
    return reply.redirect(safeNext(form.next), 303)
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
      })
      await reply.signIn(actor)
      return reply.redirect(safeNext(form.next), 303)
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode >= 500) throw err
      return showRegister(request, reply.code(err.statusCode), form, translate(request.locale, `errors.${err.code}`))
    }
  })

  fastify.post('/logout', async (_request, reply) => {
    await reply.signOut()
    return reply.redirect('/', 303)
  })

  // For the page's own script: a token to send in x-csrf-token with the session cookie.
  fastify.get('/api/v1/csrf', async (request, reply) => ({ token: csrfToken(request, reply) }))
}

export default authPages
