import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { requireSignedIn } from '../../../domain/actors.ts'
import { AppError, MAIL_RETRY_AFTER } from '../../../domain/errors.ts'
import { confirmAddress, follow, unfollow } from '../../../domain/subscriptions.ts'
import { getThread } from '../../../domain/threads.ts'
import { translate } from '../../i18n.ts'
import { perAddressLimit } from './auth.ts'
import { parseId, threadPath } from './shared.ts'
import { renderThread } from './thread-page.ts'

interface ThreadParams { id: string }
interface TokenParams { token: string }

/** Without a mail server nothing would go: there is nothing to follow by e-mail. */
export const noMail = () => new AppError(404, 'not_found', 'There is nothing here.', undefined, 'errors.not_found')
/**
 * A link to confirm an address that did not go: the mail server away, or its
 * mailbox sent its links for the hour (then an hour at most to wait).
 */
const NOT_SENT = {
  failed: { statusCode: 503, retryAfter: MAIL_RETRY_AFTER, message: 'follow.notSent' },
  limited: { statusCode: 429, retryAfter: 3600, message: 'follow.mailboxLimit' }
} as const
const invalidLink = () => new AppError(400, 'invalid_link', 'This link is not valid: it may have been cut short.', undefined, 'errors.invalid_link')

/**
 * Following an incident by e-mail: from its page when signed in, and the two
 * links e-mails carry (stop, confirm an address), which work signed out.
 */
const followPages: FastifyPluginAsync = async (fastify) => {
  const { db } = fastify

  /** The thread page again, its e-mail box saying why the link did not go. */
  const notSent = (request: FastifyRequest, reply: FastifyReply, threadId: number, why: keyof typeof NOT_SENT) => {
    const { statusCode, retryAfter, message } = NOT_SENT[why]
    reply.code(statusCode).header('retry-after', String(retryAfter))
    return renderThread(fastify, request, reply, threadId, {}, { followError: translate(request.locale, message) })
  }

  fastify.post<{ Params: ThreadParams }>('/t/:id/follow', { config: perAddressLimit(20) }, async (request, reply) => {
    const user = requireSignedIn(request.actor)
    if (fastify.mailer === null) throw noMail()
    const thread = await follow(request.deps, user, parseId(request.params.id, 'thread'))
    // An address not confirmed yet gets the link to confirm it, once in a while at most.
    const link = await fastify.sendConfirmLink(user, thread.title)
    if (link === 'failed' || link === 'limited') return await notSent(request, reply, thread.id, link)
    return reply.redirect(`${threadPath(thread)}#follow`, 303)
  })

  fastify.post<{ Params: ThreadParams }>('/t/:id/follow/resend', { config: perAddressLimit(10) }, async (request, reply) => {
    const user = requireSignedIn(request.actor)
    if (fastify.mailer === null) throw noMail()
    const thread = await getThread(db, parseId(request.params.id, 'thread'))
    const link = await fastify.sendConfirmLink(user, thread.title)
    if (link === 'failed' || link === 'limited') return await notSent(request, reply, thread.id, link)
    return reply.redirect(`${threadPath(thread)}#follow`, 303)
  })

  fastify.post<{ Params: ThreadParams }>('/t/:id/unfollow', async (request, reply) => {
    const user = requireSignedIn(request.actor)
    const thread = await getThread(db, parseId(request.params.id, 'thread'))
    await unfollow(request.deps, user.id, thread.id)
    return reply.redirect(`${threadPath(thread)}#follow`, 303)
  })

  fastify.post<{ Params: ThreadParams }>('/account/follows/:id/stop', async (request, reply) => {
    const user = requireSignedIn(request.actor)
    await unfollow(request.deps, user.id, parseId(request.params.id, 'thread'))
    return reply.redirect('/account#follows', 303)
  })

  // The links of e-mails carry their own proof: registered apart, where a
  // mail client's one-click stop is taken whatever body it sends (RFC 8058
  // says multipart/form-data), and the page tells no other site its address.
  await fastify.register(async (links) => {
    links.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 16 * 1024 }, (_request, _body, done) => { done(null, {}) })
    links.addHook('onSend', async (_request, reply) => { reply.header('referrer-policy', 'no-referrer') })
    const signedLink = { signedLink: true }

    // The link at the foot of each e-mail. Opening it asks (a mail scanner
    // opens links too); the button, or the mail client's one-click stop,
    // stops. Not limited per address: a mail provider sends the stops of
    // thousands of its users from a few; a link not signed is refused before
    // anything is read.
    const stopPage = async (request: FastifyRequest<{ Params: TokenParams }>, reply: FastifyReply, stop: boolean) => {
      const follow = fastify.followLinks.readStopToken(request.params.token)
      if (follow === null) throw invalidLink()
      const thread = await getThread(db, follow.threadId)
      if (stop) await unfollow(request.deps, follow.userId, follow.threadId)
      return reply.page('stop-mail', {
        title: translate(request.locale, 'stop.title'),
        threadTitle: thread.title,
        threadHref: threadPath(thread),
        action: `/unsubscribe/${request.params.token}`,
        done: stop
      })
    }
    links.get<{ Params: TokenParams }>('/unsubscribe/:token', { config: signedLink }, async (request, reply) => await stopPage(request, reply, false))
    links.post<{ Params: TokenParams }>('/unsubscribe/:token', { config: signedLink }, async (request, reply) => await stopPage(request, reply, true))

    // The link sent to confirm an address: opening it asks, the button confirms.
    const confirmPage = async (request: FastifyRequest<{ Params: TokenParams }>, reply: FastifyReply, confirm: boolean) => {
      const emailOf = async (userId: number) => (await db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirst())?.email
      const owner = await fastify.followLinks.readConfirmToken(request.params.token, emailOf)
      if (owner === null) throw invalidLink()
      if (confirm) await confirmAddress(request.deps, owner.userId, owner.email)
      return reply.page('confirm-email', {
        title: translate(request.locale, 'confirm.title'),
        email: owner.email,
        action: `/confirm-email/${request.params.token}`,
        done: confirm
      })
    }
    links.get<{ Params: TokenParams }>('/confirm-email/:token', { config: signedLink }, async (request, reply) => await confirmPage(request, reply, false))
    links.post<{ Params: TokenParams }>('/confirm-email/:token', { config: { ...signedLink, ...perAddressLimit(30) } }, async (request, reply) => await confirmPage(request, reply, true))
  })
}

export default followPages
