import { type Locale, translate } from '../web/i18n.ts'
import type { MailMessage } from './deliver.ts'

/**
 * The link to choose a password an admin gives: for an account just made
 * for its owner (working for a week), or for one who cannot sign in (a day).
 */
export function givenLinkMail (to: { email: string, locale: Locale }, url: string, made: { newAccount: boolean, by: string, publicUrl: string }): MailMessage {
  const kind = made.newAccount ? 'welcome' : 'given'
  return {
    to: to.email,
    // For an existing account, the subject of any link to choose a new password.
    subject: translate(to.locale, made.newAccount ? 'mail.welcome.subject' : 'mail.reset.subject'),
    text: translate(to.locale, `mail.${kind}.body`, { url, by: made.by, site: made.publicUrl })
  }
}

/** The link to choose a new password, sent to whoever asked for it at /password/forgot. */
export function resetMail (to: { email: string, locale: Locale }, resetUrl: string): MailMessage {
  return {
    to: to.email,
    subject: translate(to.locale, 'mail.reset.subject'),
    text: translate(to.locale, 'mail.reset.body', { url: resetUrl })
  }
}
