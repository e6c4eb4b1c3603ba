import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { changePassword, renameSelf } from '../../../domain/account.ts'
import { requireSignedIn } from '../../../domain/actors.ts'
import { AppError, badRequest } from '../../../domain/errors.ts'
import { PASSWORD_MIN } from '../../../domain/passwords.ts'
import { followedBy, isAddressRefused } from '../../../domain/subscriptions.ts'
import { countActiveApiTokens } from '../../../domain/tokens.ts'
import { translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { perAddressLimit, rememberBrowser } from './auth.ts'
import { type Form, field, isFormError, messageOf } from './shared.ts'

/** Which field of the password form a refusal points at; any other (too many tries, changed meanwhile) the first. */
const PASSWORD_FIELD: Record<string, string> = {
  wrong_password: 'current',
  password_too_short: 'new',
  password_too_long: 'new',
  password_unchanged: 'new',
  password_mismatch: 'again'
}

/** A signed-in user's own account: who they are here, their name, their password and the incidents they follow. */
const accountPages: FastifyPluginAsync = async (fastify) => {
  const { db } = fastify

  interface Extras {
    changed?: boolean
    error?: string
    /** The password field a refused change points at: current, new or again. */
    wrong?: string
    renamed?: boolean
    /** The name form refused: why, and the name as written. */
    nameError?: string
    name?: string
  }

  const showAccount = async (request: FastifyRequest, reply: FastifyReply, extras: Extras = {}) => {
    const user = requireSignedIn(request.actor)
    return reply.page('account', {
      title: translate(request.locale, 'account.title'),
      here: '/account',
      csrf: csrfToken(request, reply),
      user,
      passwordMin: PASSWORD_MIN,
      activeTokens: await countActiveApiTokens(db, user.id),
      // The incidents followed by e-mail; none without a mail server.
      mailOn: fastify.mailer !== null,
      follows: fastify.mailer === null ? [] : await followedBy(db, user.id),
      mailRefused: fastify.mailer !== null && await isAddressRefused(db, user.id),
      ...extras
    })
  }

  fastify.get<{ Querystring: { changed?: string, renamed?: string } }>('/account', async (request, reply) => {
    if (request.actor === null) return reply.redirect('/login?next=/account', 303)
    return await showAccount(request, reply, { changed: request.query.changed === '1', renamed: request.query.renamed === '1' })
  })

  // Each rename is written to the audit log and told to every instance: a few a minute.
  fastify.post<{ Body: Form }>('/account/name', { config: perAddressLimit(10) }, async (request, reply) => {
    const name = field(request.body, 'name')
    try {
      await renameSelf(request.deps, request.actor, name)
    } catch (err) {
      if (!isFormError(err)) throw err
      return await showAccount(request, reply.code(err.statusCode), { nameError: messageOf(request.locale, err), name })
    }
    return reply.redirect('/account?renamed=1#name', 303)
  })

  // Checks a password, so it is limited like the sign-in form.
  fastify.post<{ Body: Form }>('/account/password', { config: perAddressLimit(20) }, async (request, reply) => {
    const user = requireSignedIn(request.actor)
    const form = request.body
    try {
      if (field(form, 'password') !== field(form, 'again')) throw badRequest('password_mismatch', 'The two new passwords differ.')
      // The session already proves this browser is the user's: only this address's own failures count against it.
      fastify.loginAttempts.check(user.email, request.network, true)
      await changePassword(db, user, {
        current: field(form, 'current'),
        password: field(form, 'password'),
        revokeTokens: field(form, 'revokeTokens') === 'on'
      }, request.deps.now())
    } catch (err) {
      if (err instanceof AppError && err.code === 'wrong_password') fastify.loginAttempts.failed(user.email, request.network)
      if (!isFormError(err)) throw err
      if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter))
      return await showAccount(request, reply.code(err.statusCode), { error: messageOf(request.locale, err), wrong: PASSWORD_FIELD[err.code] ?? 'current' })
    }
    fastify.loginAttempts.succeeded(user.email, request.network)
    // Every session ended with the change; this browser goes on with a new one.
    await reply.signIn(user)
    rememberBrowser(reply, user.email)
    return reply.redirect('/account?changed=1', 303)
  })
}

export default accountPages
