import nodemailer from 'nodemailer'
import { isolate } from '../web/i18n.ts'

/** One e-mail, already worded in its recipient's language. */
export interface MailMessage {
  /** One address, taken as it is: never a list, nor a name and an address. */
  to: string
  subject: string
  text: string
  /** Further headers, such as List-Unsubscribe. */
  headers?: Record<string, string>
}

// Right-to-left letters (the scripts of the BMP and beyond it) or direction marks: a title that could reorder the words around it.
const BIDI = /[\u0590-\u08ff\u200e\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufeff\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u

/** A title in a subject, set apart only when it needs it: invisible marks in a subject are read as a spammer's. */
export const inSubject = (title: string): string => BIDI.test(title) ? isolate(title) : title

/** Sends e-mail; every feature that writes to people goes through it. */
export interface Mailer {
  deliver: (message: MailMessage) => Promise<void>
  /** How many messages it sends at a time. */
  connections: number
  close: () => void
}

/** An SMTP refusal for good (5xx), as opposed to "try again later" (4xx) or a connection lost. */
function isPermanent (err: unknown): boolean {
  const code = (err as { responseCode?: unknown }).responseCode
  return typeof code === 'number' && code >= 500 && code < 600
}

/**
 * The message itself refused for good (a 5xx once it was sent, to `DATA`:
 * its content, its size), which sending again would not change. A 5xx to the
 * sender or by the relay's policy is the relay's setting, which its operator
 * mends: what it refused waits, as for a 4xx.
 */
export const isMessageRefused = (err: unknown): boolean =>
  isPermanent(err) && (err as { command?: unknown }).command === 'DATA'

/**
 * The recipient's address itself refused for good: a 5xx to `RCPT TO` that
 * says the mailbox is not there (550, 551, 553; with an enhanced status,
 * 5.1.x, "bad address", or 5.2.1, "mailbox disabled"). Not a refusal of the
 * message or the sender (`DATA`, `MAIL FROM`), nor a relay's policy (5.7.x:
 * relaying denied, authentication needed), which say nothing of the address.
 */
export function isRecipientRefused (err: unknown): boolean {
  const { command, responseCode, response } = err as { command?: unknown, responseCode?: unknown, response?: unknown }
  if (command !== 'RCPT TO' || typeof responseCode !== 'number') return false
  const status = typeof response === 'string' ? /^\d{3}[ -](5\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1] : undefined
  if (status !== undefined) return status.startsWith('5.1.') || status === '5.2.1'
  return responseCode === 550 || responseCode === 551 || responseCode === 553
}

/** Whether a message that did not go may go later: neither its recipient nor itself was refused for good. */
export const mayGoLater = (err: unknown): boolean => !isRecipientRefused(err) && !isMessageRefused(err)

/** Connections kept open to the mail server, each sending one message at a time. */
const CONNECTIONS = 2

/**
 * A mailer for the SMTP server of `smtpUrl` (SMTP_URL), writing from
 * `from`. Connections are pooled: an alert to every on-duty technician
 * reuses one.
 */
export function smtpMailer (smtpUrl: string, from: string): Mailer {
  const url = new URL(smtpUrl)
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port === '' ? (url.protocol === 'smtps:' ? 465 : 587) : Number(url.port),
    secure: url.protocol === 'smtps:',
    pool: true,
    maxConnections: CONNECTIONS,
    connectionTimeout: 10_000,
    socketTimeout: 20_000,
    ...(url.username !== '' && { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } })
  })
  return {
    async deliver (message) {
      // All of it is sent by a program: no out-of-office reply to it.
      const headers = { 'Auto-Submitted': 'auto-generated', ...message.headers }
      await transport.sendMail({ from, to: { name: '', address: message.to }, subject: message.subject, text: message.text, headers })
    },
    connections: CONNECTIONS,
    close: () => transport.close()
  }
}
