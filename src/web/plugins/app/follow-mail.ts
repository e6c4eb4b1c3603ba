import fp from 'fastify-plugin'
import type { Actor } from '../../../domain/actors.ts'
import { type LinkSigner, type News, claimConfirmMail, claimNews, linkSigner, newsSent, releaseConfirmMail } from '../../../domain/subscriptions.ts'
import { confirmMail, newsMail } from '../../../mail/follow.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The signed links of follow e-mails: to stop one, to confirm an address. */
    followLinks: LinkSigner
    /** Sends followers the official posts not sent yet; returns the number of e-mails that went. */
    sendNews: () => Promise<number>
    /**
     * Sends the user a link to confirm their address, unless one went lately:
     * 'sent', 'already' (sent lately, or confirmed), or 'failed' (the mail server away).
     */
    sendConfirmLink: (user: Actor, title: string) => Promise<'sent' | 'already' | 'failed'>
  }
}

export interface FollowMailOptions {
  /** How often followed incidents are looked at for official posts not sent yet. */
  intervalMs?: number
  /** Follows claimed at a time. */
  batch?: number
}

/** E-mail to the followers of incidents: each official post, once each, and the links to confirm an address. */
export default fp<FollowMailOptions>(async (fastify, options) => {
  const { deps, config, mailer } = fastify
  const links = linkSigner(config.sessionSecret)
  fastify.decorate('followLinks', links)
  const stopUrl = (userId: number, threadId: number) => `${config.publicUrl}/unsubscribe/${links.stopToken(userId, threadId)}`
  const batch = options.batch ?? 200

  fastify.decorate('sendNews', async () => {
    if (mailer === null) return 0
    let sent = 0
    // Batch after batch while there is news: a post to thousands of followers
    // goes in one pass. A stopping instance leaves the rest to the others.
    while (!closing) {
      const due = await claimNews(deps, batch)
      if (due.length === 0) return sent
      let failed = 0
      const send = async (news: News) => {
        try {
          await mailer.deliver(newsMail(news, stopUrl(news.userId, news.thread.id), { publicUrl: config.publicUrl, timeZone: config.tzDisplay }))
        } catch (err) {
          // Its claim stands: tried again once it lapses, with whatever came since.
          failed++
          fastify.log.warn({ err, threadId: news.thread.id, userId: news.userId }, 'could not send an update to a follower')
          return
        }
        await newsSent(fastify.db, news)
        sent++
      }
      // As many at a time as the mailer keeps connections. What is left of the
      // batch when the instance stops stays claimed: another instance sends it once the claim lapses.
      let next = 0
      await Promise.all(Array.from({ length: mailer.connections }, async () => {
        while (next < due.length && !closing) await send(due[next++]!)
      }))
      // The mail server refusing everything: the next pass tries again.
      if (failed === due.length) return sent
    }
    return sent
  })

  fastify.decorate('sendConfirmLink', async (user: Actor, title: string) => {
    if (mailer === null) return 'failed'
    const claim = await claimConfirmMail(deps, user.id)
    if (claim === null) return 'already'
    const url = `${config.publicUrl}/confirm-email/${links.confirmToken(user.id, user.email)}`
    try {
      await mailer.deliver(confirmMail({ email: user.email, locale: user.locale ?? 'en' }, url, title))
      return 'sent'
    } catch (err) {
      fastify.log.warn({ err, userId: user.id }, 'could not send the link to confirm an address')
      await releaseConfirmMail(fastify.db, user.id, claim.before)
      return 'failed'
    }
  })

  let closing = false
  fastify.addHook('preClose', (done) => { closing = true; done() })
  let sending: Promise<void> | null = null
  const timer = setInterval(() => {
    // One pass at a time: a slow mail server must not pile them up.
    if (sending !== null || mailer === null) return
    sending = fastify.sendNews()
      .then(() => {}, (err: unknown) => fastify.log.warn({ err }, 'sending updates to followers failed'))
      .finally(() => { sending = null })
  }, options.intervalMs ?? 10_000)
  timer.unref()
  // A pass under way ends before the database closes: what it sent is marked sent.
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await sending
  })
}, { name: 'follow-mail', dependencies: ['shifts'] })
