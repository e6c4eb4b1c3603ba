import { type Locale, translate } from '../web/i18n.ts'
import type { MailMessage } from './deliver.ts'

/** The link to choose a new password, sent to whoever asked for it at /password/forgot. */
export function resetMail (to: { email: string, locale: Locale }, resetUrl: string): MailMessage {
  return {
    to: to.email,
    subject: translate(to.locale, 'mail.reset.subject'),
    text: translate(to.locale, 'mail.reset.body', { url: resetUrl })
  }
}
