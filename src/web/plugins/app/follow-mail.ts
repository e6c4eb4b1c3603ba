import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { Actor } from '../../../domain/actors.ts'
import { type LinkSigner, type News, addressRefused, claimConfirmMail, claimNews, holdClaim, linkSigner, newsSent, releaseClaims, releaseConfirmMail } from '../../../domain/subscriptions.ts'
import { isMessageRefused, isRecipientRefused } from '../../../mail/deliver.ts'
import { confirmMail, newsMail } from '../../../mail/follow.ts'
import type { Locale } from '../../i18n.ts'

/**
 * Addresses taken for gone in one pass at most: a relay that refuses every
 * recipient (misconfigured, its policy changed) must not unconfirm them all.
 */
const REFUSED_ADDRESSES_PER_PASS = 5

declare module 'fastify' {
  interface FastifyInstance {
    /** The signed links of follow e-mails: to stop one, to confirm an address. */
    followLinks: LinkSigner
    /** Sends followers the official posts not sent yet; returns the number of e-mails that went. */
    sendNews: () => Promise<number>
    /**
     * Sends the user a link to confirm their address, unless one went lately:
     * 'sent', 'already' (sent lately, or confirmed), 'refused' (the address
     * itself, by its mail server), or 'failed' (the mail server away).
     */
    sendConfirmLink: (user: Actor, title: string) => Promise<'sent' | 'already' | 'limited' | 'refused' | 'failed'>
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
  // In the reader's language, whatever the browser that opens them.
  const stopUrl = (userId: number, threadId: number, locale: Locale) => `${config.publicUrl}/unsubscribe/${links.stopToken(userId, threadId)}?lang=${locale}`
  const batch = options.batch ?? 200

  fastify.decorate('sendNews', async () => {
    if (mailer === null) return 0
    // The id this pass's claims carry.
    const by = randomUUID()
    let sent = 0
    let retried = 0
    let dropped = 0
    let refusedAddresses = 0
    let heldBack = 0
    let firstError: unknown
    const send = async (news: News): Promise<'done' | 'deferred'> => {
      // Still this pass's, and still followed: else another pass has it, or nobody wants it.
      if (!await holdClaim(deps, by, news)) return 'done'
      let delivered = false
      if (news.posts.length > 0) {
        try {
          await mailer.deliver(newsMail(news, stopUrl(news.userId, news.thread.id, news.locale), { publicUrl: config.publicUrl, timeZone: config.tzDisplay }))
          delivered = true
        } catch (err) {
          firstError ??= err
          // The message refused for good (5xx to its content): not tried
          // again. The address itself refused (no such mailbox): nothing more
          // goes to it until its owner confirms it again; but many in one pass
          // say more of the relay than of the addresses, and those wait. Else
          // (4xx, no answer, the relay's policy) its claim stands, and it is
          // tried again once that lapses, with whatever came since.
          const mailboxRefused = isRecipientRefused(err)
          const gone = mailboxRefused && refusedAddresses < REFUSED_ADDRESSES_PER_PASS
          if (mailboxRefused && !gone) heldBack++
          if (!gone && !isMessageRefused(err)) {
            retried++
            return 'deferred'
          }
          dropped++
          if (gone) {
            refusedAddresses++
            await addressRefused(deps, news.userId, news.email)
          }
        }
      }
      await newsSent(fastify.db, by, news, delivered ? deps.now() : null)
      if (news.posts.length > 0) sent++
      return 'done'
    }
    try {
      // Batch after batch while there is news: a post to thousands of
      // followers goes in one pass. A stopping instance leaves the rest to the others.
      while (!closing) {
        const due = await claimNews(deps, by, batch)
        if (due.length === 0) break
        // As many at a time as the mailer keeps connections; each goes on to
        // the end of the batch, whatever befell the other (the database away).
        let next = 0
        let delivered = 0
        const workers = await Promise.allSettled(Array.from({ length: mailer.connections }, async () => {
          while (next < due.length && !closing) {
            if (await send(due[next++]!) === 'done') delivered++
          }
        }))
        const failed = workers.find((worker) => worker.status === 'rejected')
        if (failed !== undefined) throw failed.reason
        // Nothing in the batch went (the mail server refusing everything): the next pass tries again.
        if (delivered === 0) break
      }
    } finally {
      // What this pass claimed and did not send goes to whichever pass comes next, at once.
      if (closing) await releaseClaims(fastify.db, by)
    }
    if (firstError !== undefined) fastify.log.warn({ err: firstError, sent, retried, dropped, refusedAddresses }, 'some updates to followers could not be sent')
    if (heldBack > 0) fastify.log.error({ refusedAddresses, heldBack }, 'the mail server refused many followers\' addresses in one pass; the others wait: check the relay of SMTP_URL')
    return sent
  })

  fastify.decorate('sendConfirmLink', async (user: Actor, title: string) => {
    if (mailer === null) return 'failed'
    const claim = await claimConfirmMail(deps, user.id)
    if (claim === null) return 'already'
    // Its mailbox was sent its links for the hour (accounts made with one address).
    if (claim === 'limited') return 'limited'
    const locale = user.locale ?? 'en'
    const url = `${config.publicUrl}/confirm-email/${links.confirmToken(user.id, user.email)}?lang=${locale}`
    try {
      await mailer.deliver(confirmMail({ email: user.email, locale }, url, title))
      return 'sent'
    } catch (err) {
      fastify.log.warn({ err, userId: user.id }, 'could not send the link to confirm an address')
      if (isRecipientRefused(err)) {
        await addressRefused(deps, user.id, user.email)
        return 'refused'
      }
      await releaseConfirmMail(deps, user.id, claim.before)
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
