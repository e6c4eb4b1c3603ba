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
  /** How it refuses a message: 451 (try again later) unless set, or 554 (refused for good, for what it says). */
  refusalCode: number
  /** Addresses it refuses as recipients, for good (550 to RCPT TO: no such mailbox). */
  unknownRecipients: Set<string>
  /** Addresses it puts off as recipients (451 to RCPT TO: try again later), as a mailbox's server in trouble does. */
  deferredRecipients: Set<string>
  /** While true, it refuses every recipient by policy (554 5.7.1 to RCPT TO), as a misconfigured relay does. */
  relayDenied: boolean
  /** Every address a client asked it to deliver to (RCPT TO), refused or not, in order. */
  recipientsAsked: string[]
}

/** A real SMTP server on a free port of this machine, keeping every message it receives; closed at the end of `t`. */
export async function startMailbox (t: Test): Promise<Mailbox> {
  const mailbox: Mailbox = { url: '', received: [], refusing: false, refusalCode: 451, unknownRecipients: new Set(), deferredRecipients: new Set(), relayDenied: false, recipientsAsked: [] }
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onRcptTo (address, _session, callback) {
      mailbox.recipientsAsked.push(address.address)
      if (mailbox.relayDenied) return callback(Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }))
      if (mailbox.deferredRecipients.has(address.address)) return callback(Object.assign(new Error('4.2.0 Mailbox busy, try again later'), { responseCode: 451 }))
      if (!mailbox.unknownRecipients.has(address.address)) return callback()
      callback(Object.assign(new Error('no such mailbox'), { responseCode: 550 }))
    },
    onData (stream, _session, callback) {
      if (mailbox.refusing) {
        stream.resume()
        stream.on('end', () => callback(Object.assign(new Error(mailbox.refusalCode >= 500 ? 'message refused' : 'try again later'), { responseCode: mailbox.refusalCode })))
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
