import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import type { Test } from 'tap'

export interface Mailbox {
  /** SMTP_URL for the app. */
  url: string
  /** Every message received, in order. */
  received: ParsedMail[]
  /** While true, the server refuses every message, as a mail relay in trouble does. */
  refusing: boolean
  /** How it refuses: 451 (try again later) unless set, or 550 (no such mailbox, for good). */
  refusalCode: number
}

/** A real SMTP server on a free port of this machine, keeping every message it receives; closed at the end of `t`. */
export async function startMailbox (t: Test): Promise<Mailbox> {
  const mailbox: Mailbox = { url: '', received: [], refusing: false, refusalCode: 451 }
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData (stream, _session, callback) {
      if (mailbox.refusing) {
        stream.resume()
        stream.on('end', () => callback(Object.assign(new Error(mailbox.refusalCode >= 500 ? 'no such mailbox' : 'try again later'), { responseCode: mailbox.refusalCode })))
        return
      }
      simpleParser(stream).then((mail) => { mailbox.received.push(mail); callback() }, callback)
    }
  })
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => smtp.close(() => resolve())))
  mailbox.url = `smtp://127.0.0.1:${(smtp.server.address() as { port: number }).port}`
  return mailbox
}

/** The address a message went to. */
export const recipientOf = (mail: ParsedMail): string => mail.to !== undefined && !Array.isArray(mail.to) ? mail.to.text : ''
