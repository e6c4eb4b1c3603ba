import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { setForgottenPassword } from '../../../domain/account.ts'
import { type ResetClaim, claimResetMail, releaseResetMail, resetLinks } from '../../../domain/password-reset.ts'
import { PASSWORD_MIN } from '../../../domain/passwords.ts'
import { countActiveApiTokens } from '../../../domain/tokens.ts'
import { resetMail } from '../../../mail/password.ts'
import { translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { perAddressLimit } from './auth.ts'
import { type Form, field, isFormError, messageOf } from './shared.ts'

interface TokenParams { token: string }

/**
 * A forgotten password: a link to choose a new one, sent to the account's
 * address (when the forum sends e-mail), working for an hour and once.
 */
const passwordPages: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  const links = resetLinks(config.sessionSecret)

  fastify.get<{ Querystring: { sent?: string } }>('/password/forgot', async (request, reply) =>
    await reply.page('password-forgot', {
      title: translate(request.locale, 'password.forgot.title'),
      csrf: csrfToken(request, reply),
      noMail: fastify.mailer === null,
      sent: request.query.sent === '1'
    }))

  // Sent in the background: an address with an account takes no longer to
  // answer than one without, and the answer is the same.
  const send = async (claim: ResetClaim, locale: 'en' | 'fr'): Promise<void> => {
    const url = `${config.publicUrl}/password/reset/${links.token(claim, fastify.deps.now())}?lang=${locale}`
    try {
      await fastify.mailer!.deliver(resetMail({ email: claim.email, locale }, url))
    } catch (err) {
      fastify.log.warn({ err, userId: claim.userId }, 'could not send a link to choose a new password')
      await releaseResetMail(fastify.deps, claim)
    }
  }

  fastify.post<{ Body: Form }>('/password/forgot', { config: { ...perAddressLimit(10), openForm: true } }, async (request, reply) => {
    if (fastify.mailer !== null) {
      const email = field(request.body, 'email')
      const locale = request.locale
      void claimResetMail(request.deps, email)
        .then((claim) => claim === null ? undefined : send(claim, claim.locale ?? locale))
        .catch((err: unknown) => fastify.log.warn({ err }, 'could not send a link to choose a new password'))
    }
    return await reply.redirect('/password/forgot?sent=1', 303)
  })

  const showReset = (request: FastifyRequest, reply: FastifyReply, token: string, state: { invalid?: boolean, error?: string, tokens?: { count: number, revoke: boolean } }) => {
    // A new account's link (an admin made it): its first password, not a new one.
    const welcome = (request.query as Record<string, unknown>).welcome === '1'
    // The page's address is the link: no other site, nor its own files' requests, are told it.
    reply.header('referrer-policy', 'no-referrer')
    return reply.page('password-reset', {
      title: translate(request.locale, welcome ? 'password.welcome.title' : 'password.reset.title'),
      csrf: csrfToken(request, reply),
      token,
      welcome,
      passwordMin: PASSWORD_MIN,
      ...state
    })
  }

  // The link is a secret until used: its address is kept out of the logs.
  fastify.get<{ Params: TokenParams }>('/password/reset/:token', { config: { secretPath: true } }, async (request, reply) => {
    const { token } = request.params
    const valid = await links.read(fastify.db, token, request.deps.now())
    if (valid === null) return await showReset(request, reply.code(400), token, { invalid: true })
    // The account's API tokens end with its password unless the box is unticked.
    return await showReset(request, reply, token, { tokens: { count: await countActiveApiTokens(fastify.db, valid.userId), revoke: true } })
  })

  fastify.post<{ Params: TokenParams, Body: Form }>('/password/reset/:token', { config: { ...perAddressLimit(20), secretPath: true, openForm: true } }, async (request, reply) => {
    const { token } = request.params
    const valid = await links.read(fastify.db, token, request.deps.now())
    if (valid === null) return await showReset(request, reply.code(400), token, { invalid: true })
    // Unticked, the tokens stay; a page that offered no box (none then) revokes
    // any made since, as the taker of the account could have.
    const offered = field(request.body, 'tokensOffered') === '1'
    const revoke = !offered || field(request.body, 'revokeTokens') === 'on'
    try {
      await setForgottenPassword(fastify.db, valid.userId, field(request.body, 'password'), valid.passwordHash, request.deps.now(), revoke)
    } catch (err) {
      if (!isFormError(err)) throw err
      // Changed meanwhile (the link used in another tab): this one is spent.
      if (err.statusCode === 409) return await showReset(request, reply.code(400), token, { invalid: true })
      const tokens = { count: await countActiveApiTokens(fastify.db, valid.userId), revoke }
      return await showReset(request, reply.code(err.statusCode), token, { error: messageOf(request.locale, err), tokens })
    }
    // The sessions ended with the change, this browser's too.
    return await reply.redirect((request.query as Record<string, unknown>).welcome === '1' ? '/login?reset=first' : '/login?reset=1', 303)
  })
}

export default passwordPages
