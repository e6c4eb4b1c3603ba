import fp from 'fastify-plugin'
import { failuresOnce } from '../../../db/connect.ts'
import { type AlertRecipient, type OverdueThread, alertRecipients, allStaff, claimOverdue, overdueThreads, releaseOverdue, stillOverdue } from '../../../domain/alerts.ts'
import { isStaff } from '../../../domain/actors.ts'
import { loadShiftHours } from '../../../domain/shifts.ts'
import { type Mailer, isRecipientRefused, mayGoLater, smtpMailer } from '../../../mail/deliver.ts'
import { overdueMail } from '../../../mail/overdue.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** E-mail delivery, when SMTP_URL is set. */
    mailer: Mailer | null
    /** Alerts the staff about promises that have just passed; returns the number of e-mails sent. */
    checkOverdue: () => Promise<number>
  }
  interface FastifyRequest {
    /** For signed-in staff on a page: the threads whose promised update is overdue. */
    overdueAlerts: OverdueThread[] | null
  }
}

export interface ShiftsPluginOptions {
  /** How often the schedule is read again, for changes made on another instance. */
  scheduleRefreshMs?: number
  /** How often overdue promises are looked for. */
  overdueCheckMs?: number
}

/** The shift schedule kept in memory, the staff's overdue banner, and the overdue alerts by e-mail. */
export default fp<ShiftsPluginOptions>(async (fastify, options) => {
  const { deps, config } = fastify
  deps.shiftHours = await loadShiftHours(fastify.db)
  const reading = failuresOnce(fastify.log, 'read the shift schedule (the one read before is kept)')
  const refresh = setInterval(() => {
    loadShiftHours(fastify.db)
      .then((hours) => {
        deps.shiftHours = hours
        reading.worked()
      }, reading.failed)
  }, options.scheduleRefreshMs ?? 10_000)
  refresh.unref()

  const mailer = config.smtpUrl === undefined ? null : smtpMailer(config.smtpUrl, config.mailFrom)
  fastify.decorate('mailer', mailer)

  /**
   * Alerts the mail server put off for some of their recipients (a 4xx, the
   * connection lost) while others got them: sent to those again at the next
   * passes, while the promise that passed stands, for half an hour at most.
   * Kept by this instance alone, which claimed them: lost if it stops.
   */
  const putOff: Array<{ thread: OverdueThread, recipient: AlertRecipient, since: number }> = []
  const PUT_OFF_MS = 30 * 60_000
  const alert = async (mailer: Mailer, thread: OverdueThread, recipient: AlertRecipient) =>
    await mailer.deliver(overdueMail(thread, recipient, { publicUrl: config.publicUrl, timeZone: config.tzDisplay }))
  const sendPutOff = async (mailer: Mailer): Promise<number> => {
    if (putOff.length === 0) return 0
    const now = deps.now()
    const current = new Map((await stillOverdue(fastify.db, [...new Set(putOff.map((one) => one.thread.id))], now)).map((thread) => [thread.id, thread]))
    let sent = 0
    for (const one of putOff.splice(0)) {
      const thread = current.get(one.thread.id)
      // Posted, promised again or resolved meanwhile, or put off too long: no more news in it.
      if (thread === undefined || thread.nextUpdateAt !== one.thread.nextUpdateAt || now.getTime() - one.since > PUT_OFF_MS) continue
      try {
        await alert(mailer, thread, one.recipient)
        sent++
      } catch (err) {
        fastify.log.warn({ err, threadId: thread.id }, 'could not send an overdue alert')
        if (mayGoLater(err)) putOff.push(one)
      }
    }
    return sent
  }

  fastify.decorate('checkOverdue', async () => {
    if (mailer === null) return 0
    const resent = await sendPutOff(mailer)
    const overdue = await claimOverdue(deps)
    if (overdue.length === 0) return resent
    // An alert that reached nobody (the mail server down, as it may be on
    // such a day) is given back, and tried again at the next pass; one that
    // reached some of them is not, or they would get it every 30 s.
    const release = async (thread: OverdueThread) => {
      await releaseOverdue(fastify.db, thread).catch((err: unknown) => fastify.log.warn({ err, threadId: thread.id }, 'could not give back an overdue alert'))
    }
    let recipients: AlertRecipient[]
    try {
      recipients = await alertRecipients(fastify.db, deps.now())
    } catch (err) {
      for (const thread of overdue) await release(thread)
      throw err
    }
    let sent = resent
    for (const thread of overdue) {
      let reached = 0
      const missed: AlertRecipient[] = []
      const refused = new Set<string>()
      const sendTo = async (list: AlertRecipient[]) => {
        for (const recipient of list) {
          try {
            await alert(mailer, thread, recipient)
            reached++
          } catch (err) {
            fastify.log.warn({ err, threadId: thread.id }, 'could not send an overdue alert')
            if (isRecipientRefused(err)) refused.add(recipient.email)
            else if (mayGoLater(err)) missed.push(recipient)
          }
        }
      }
      await sendTo(recipients)
      // Every address on duty refused for good (no such mailbox): the rest of
      // the staff are told instead, or the alert would reach nobody, and be
      // tried again every pass for as long as the promise stands.
      const allRefused = recipients.length > 0 && refused.size === recipients.length
      if (allRefused) await sendTo((await allStaff(fastify.db)).filter((recipient) => !refused.has(recipient.email)))
      if (reached === 0 && recipients.length > 0 && missed.length > 0) await release(thread)
      else for (const recipient of missed) putOff.push({ thread, recipient, since: deps.now().getTime() })
      sent += reached
    }
    return sent
  })

  let checking = false
  const checker = setInterval(() => {
    // One pass at a time: a slow mail server must not pile them up.
    if (checking) return
    checking = true
    fastify.checkOverdue()
      .catch((err: unknown) => fastify.log.warn({ err }, 'overdue check failed'))
      .finally(() => { checking = false })
  }, options.overdueCheckMs ?? 30_000)
  checker.unref()

  fastify.decorateRequest('overdueAlerts', null)
  fastify.addHook('preHandler', async (request) => {
    if (!isStaff(request.actor) || request.url.startsWith('/api/') || request.url.startsWith('/static/')) return
    request.overdueAlerts = await overdueThreads(deps, request.actor)
  })

  fastify.addHook('onClose', async () => {
    clearInterval(refresh)
    clearInterval(checker)
    mailer?.close()
  })
}, { name: 'shifts', dependencies: ['database', 'auth'] })
