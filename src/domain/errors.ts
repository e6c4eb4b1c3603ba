/**
 * The one error type of the domain. `code` is stable and machine-readable (and
 * the key of the message shown to users); `message` is the English text for
 * API clients.
 */
export class AppError extends Error {
  constructor (
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** Seconds, for 429 and 503 answers. */
    readonly retryAfter?: number,
    /** The message's key for people, when it is more precise than the code's (`errors.not_found.thread`). */
    readonly messageKey?: string
  ) {
    super(message)
    this.name = 'AppError'
  }
}

export const badRequest = (code: string, message: string) => new AppError(400, code, message)
export const unauthorized = (message = 'Sign in first.') => new AppError(401, 'unauthorized', message)
export const forbidden = (code: string, message: string) => new AppError(403, code, message)
/** What an address or a call may name that is not there; each has its own message. */
export type Missing = 'thread' | 'post' | 'user' | 'token' | 'flag'
const MISSING: Record<Missing, string> = {
  thread: 'No such thread.',
  post: 'No such post.',
  user: 'No such user.',
  token: 'No such token.',
  flag: 'This post has no open flag.'
}
export const notFound = (what: Missing) => new AppError(404, 'not_found', MISSING[what], undefined, `errors.not_found.${what}`)
export const conflict = (code: string, message: string) => new AppError(409, code, message)
export const tooMany = (code: string, message: string, retryAfter: number) => new AppError(429, code, message, retryAfter)
export const overloaded = (retryAfter = 5) => new AppError(503, 'overloaded', 'The server is too busy. Try again in a moment.', retryAfter)
/** Seconds a client is asked to wait while the database is away: about what a server restart takes. */
export const DATABASE_RETRY_AFTER = 5
/** Seconds before asking again for an e-mail the mail server did not take. */
export const MAIL_RETRY_AFTER = 300
export const mailNotSent = () => new AppError(503, 'mail_not_sent', 'The e-mail could not be sent just now. Try again in a few minutes.', MAIL_RETRY_AFTER)
export const databaseUnavailable = () => new AppError(503, 'database_unavailable', 'The database does not answer. Try again in a moment.', DATABASE_RETRY_AFTER)
