import type { AlertRecipient, OverdueThread } from '../domain/alerts.ts'
import { isolate, translate } from '../web/i18n.ts'
import { dateFormatterFor } from '../web/views.ts'
import { type MailMessage, inSubject } from './deliver.ts'

export interface OverdueMailOptions {
  /** PUBLIC_URL, for the link to the thread. */
  publicUrl: string
  /** TZ_DISPLAY: the promised time is written by the organisation's clock. */
  timeZone: string
}

/** The alert for one overdue thread, to one staff member, in their language. */
export function overdueMail (thread: OverdueThread, to: AlertRecipient, options: OverdueMailOptions): MailMessage {
  const format = dateFormatterFor(options.timeZone)
  const locale = to.locale
  return {
    to: to.email,
    subject: translate(locale, 'mail.overdue.subject', { title: inSubject(thread.title) }),
    text: translate(locale, 'mail.overdue.body', {
      title: isolate(thread.title),
      // In full, its zone named: read on another clock, or the next morning after a mail outage.
      time: format(locale, new Date(thread.nextUpdateAt), 'full'),
      minutes: thread.minutes,
      url: `${options.publicUrl}/t/${thread.id}`
    })
  }
}
