import { STATUS_CODES } from 'node:http'
import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import type { ErrorObject } from 'ajv'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isDatabaseAway } from '../../../db/connect.ts'
import { AppError, databaseUnavailable } from '../../../domain/errors.ts'
import { type Locale, fromAcceptLanguage, hasMessage, isLocale, pickLocale, translate, waitOf } from '../../i18n.ts'
import { pageOfOurs } from '../../routes/pages/shared.ts'
import { CSRF_COOKIE } from '../external/security.ts'
import { SESSION_COOKIE } from './auth.ts'

interface ErrorAnswer {
  statusCode: number
  code: string
  message: string
  retryAfter?: number
  /** The message's key for people, when more precise than the code's. */
  messageKey?: string
  /** What the schema found wrong, and in what (body, querystring...): for the message in other languages. */
  validation?: { context: string, errors: ErrorObject[] }
}

// CommonJS, whose types say otherwise: required as it is.
const localizeFr = createRequire(import.meta.url)('ajv-i18n/localize/fr') as (errors: ErrorObject[]) => void

/** A schema's findings in French, in the shape of Fastify's English message: "body/title doit être une chaîne de caractères". */
function inFrench ({ context, errors }: NonNullable<ErrorAnswer['validation']>): string {
  const copies = errors.map((error) => ({ ...error }))
  localizeFr(copies)
  return copies.map((error) => unknownField(context, error, 'n’est pas un champ de cette requête') ?? `${context}${error.instancePath} ${error.message ?? ''}`.trim()).join(', ')
}

/** A field the schema does not name, said by its name: "body/nextUpdate is not a field of this request". */
function unknownField (context: string, error: ErrorObject, saying: string): string | undefined {
  return error.keyword === 'additionalProperties' ? `${context}${error.instancePath}/${String(error.params.additionalProperty)} ${saying}` : undefined
}

/** Maps whatever was thrown to the contract's error shape; never a stack trace, never a 500 for bad input. */
function classify (err: FastifyError | AppError | Error): ErrorAnswer {
  // A database that went away is an outage to wait out, not a bug: 503, try
  // again. Not a client's connection reset as it sent its body, which Fastify
  // marks as the client's (400).
  const clients = ((err as FastifyError).statusCode ?? 500) < 500
  if (!clients && isDatabaseAway(err)) err = databaseUnavailable()
  if (err instanceof AppError) {
    return {
      statusCode: err.statusCode,
      code: err.code,
      message: err.message,
      ...(err.retryAfter !== undefined && { retryAfter: err.retryAfter }),
      ...(err.messageKey !== undefined && { messageKey: err.messageKey })
    }
  }
  const fastifyError = err as FastifyError
  if (fastifyError.validation !== undefined) {
    const context = fastifyError.validationContext ?? 'body'
    const errors = fastifyError.validation as ErrorObject[]
    return {
      statusCode: 400,
      code: 'invalid_request',
      message: errors.map((error) => unknownField(context, error, 'is not a field of this request')).find((said) => said !== undefined) ?? fastifyError.message,
      validation: { context, errors }
    }
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, code: 'too_large', message: 'The request body is too large.' }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // Bad input, which the contract answers with 400 (its code says which).
      return { statusCode: 400, code: 'unsupported_media_type', message: 'Send JSON (application/json) or a form (application/x-www-form-urlencoded).' }
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      return { statusCode: 403, code: 'csrf', message: 'Missing or invalid CSRF token: send the x-csrf-token header (GET /api/v1/csrf gives one).' }
  }
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    const code = status === 429 ? 'rate_limited' : status === 404 ? 'not_found' : 'invalid_request'
    return { statusCode: status, code, message: fastifyError.message }
  }
  return { statusCode: 500, code: 'internal', message: 'Something went wrong on our side.' }
}

/**
 * What Fastify's router could not take (an address it cannot read, "/%": a
 * link cut short in a chat), for its `frameworkErrors`. No hook has run: it
 * knows nobody, and no language but the one the request asks for.
 */
export function sendFrameworkError (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const answer = classify(err)
  // The query string is not parsed yet: its ?lang= is read here, as a reader's choice.
  const asked = new URLSearchParams(request.url.split('?')[1] ?? '').get('lang')
  const locale = isLocale(asked) ? asked : fromAcceptLanguage(request.headers['accept-language'])
  const key = `errors.${answer.code}`
  // The hooks that set the security headers have not run: they are set here, as on every answer.
  reply.headers(request.server.securityHeaders).code(answer.statusCode)
  if (wantsHtml(request)) {
    const html = request.server.views.page('error', {
      locale,
      title: errorTitle(locale, answer.statusCode),
      statusCode: answer.statusCode,
      message: translate(locale, hasMessage(key) ? key : 'errors.internal'),
      back: { href: '/', label: translate(locale, 'error.back') },
      here: '/',
      languages: []
    })
    return reply.type('text/html; charset=utf-8').send(html)
  }
  // Our words, not the router's (which repeat the address back).
  const message = hasMessage(key) ? translate(locale, key) : answer.message
  return reply.send({ error: { code: answer.code, message } })
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (a header
 * section too large, a malformed request line or length), for Fastify's
 * `clientErrorHandler`: answered in the contract's shape, in English, as
 * nothing read says which language the client reads, and the connection closed.
 */
export function answerClientError (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  // A connection reset has nothing left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'too_large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout'] : [400, 'invalid_request']
  this.log.debug({ code: err.code }, 'request refused by the HTTP parser')
  if (socket.writable) {
    const body = JSON.stringify({ error: { code, message: translate('en', `errors.${code}`) } })
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

/** An error page's heading: what happened where it is plain (nothing at that address), else that something went wrong. */
function errorTitle (locale: Locale, statusCode: number): string {
  const key = `error.title.${statusCode}`
  return translate(locale, hasMessage(key) ? key : 'error.title')
}

export function wantsHtml (request: FastifyRequest): boolean {
  if (request.url.startsWith('/api/')) return false
  const accept = request.headers.accept ?? ''
  return accept.includes('text/html') || request.method !== 'GET' || accept === '' || accept.includes('*/*')
}

export function sendError (request: FastifyRequest, reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  // The language is picked once the user is known; when that failed (the
  // database is away), it is picked here from what the request carries.
  if (request.cookies != null) request.locale = pickLocale(request)
  reply.code(answer.statusCode)
  if (answer.retryAfter !== undefined) reply.header('retry-after', String(answer.retryAfter))
  const html = wantsHtml(request)
  // A form refused because its writer's session ended meanwhile says that, not
  // that the form expired: its cookie is still sent, or was dropped (signed
  // out in another tab, or at the session's end) from a form only the
  // signed-in get, sent by a browser that had our pages (their CSRF cookie).
  const cookies = request.cookies ?? {}
  const signedOut = html && answer.code === 'csrf' && request.actor === null && (cookies[SESSION_COOKIE] !== undefined ||
    (cookies[CSRF_COOKIE] !== undefined && request.routeOptions.config?.openForm !== true))
  // A form that could not be taken says so, and what to do with it.
  const sent = `errors.${answer.code}.sent`
  // A script is told what to send (a CSRF header, a valid Idempotency-Key), not that a form expired.
  const forScript = `errors.${answer.code}.api`
  const key = signedOut ? 'errors.signed_out' : !html && hasMessage(forScript) ? forScript : html && request.method !== 'GET' && hasMessage(sent) ? sent : answer.messageKey ?? `errors.${answer.code}`
  // API clients reading English get the precise message; everyone else gets it in their language.
  const message = (html || request.locale !== 'en') && hasMessage(key)
    ? translate(request.locale, key, { wait: waitOf(request.locale, answer.retryAfter) })
    : answer.message
  // A script's request refused by a schema is told what is wrong, in French as in English.
  if (!html) {
    const detailed = answer.validation !== undefined && request.locale === 'fr' ? `${message.replace(/\.$/, '')}\u00a0: ${inFrench(answer.validation)}.` : message
    return reply.send({ error: { code: answer.code, message: detailed } })
  }
  return reply.page('error', {
    title: errorTitle(request.locale, answer.statusCode),
    message,
    statusCode: answer.statusCode,
    back: signedOut ? signInAgain(request) : backFrom(request, answer),
    written: request.method === 'POST' ? writtenIn(request.body) : []
  })
}

/** The form fields people write in (a post, a title, a handover's sections), by the name of their label. */
const WRITTEN_FIELDS: Record<string, string> = { title: 'newIncident.incidentTitle', body: 'compose.body', done: 'handover.done', pending: 'handover.pending', nextSteps: 'handover.next' }

/**
 * What the refused form's writer had written, to copy from the error page:
 * without JavaScript, nothing else keeps it.
 */
function writtenIn (body: unknown): Array<{ label: string, text: string }> {
  if (typeof body !== 'object' || body === null) return []
  const form = body as Record<string, unknown>
  return Object.entries(WRITTEN_FIELDS)
    .map(([name, label]) => ({ label, text: form[name] }))
    .filter((field): field is { label: string, text: string } => typeof field.text === 'string' && field.text.trim() !== '')
}

/** Back to the sign-in page, which then leads back to the page the form was sent from. */
function signInAgain (request: FastifyRequest): { href: string, label: string } {
  const from = pageOfOurs(request)
  const next = from === null ? '/' : from.pathname + from.search
  return { href: `/login?next=${encodeURIComponent(next)}`, label: translate(request.locale, 'error.signInAgain') }
}

/** The error page's way out: back to the incident a form was sent from (if there is one), else to the incidents. */
function backFrom (request: FastifyRequest, answer: ErrorAnswer): { href: string, label: string } {
  const thread = request.method === 'GET' || answer.code === 'not_found' ? null : /^\/t\/(\d+)(?:[/?]|$)/.exec(request.url)
  return thread === null
    ? { href: '/', label: translate(request.locale, 'error.back') }
    : { href: `/t/${thread[1]}`, label: translate(request.locale, 'error.backToThread') }
}

export default fp(async (fastify) => {
  fastify.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    const answer = classify(err)
    // @fastify/rate-limit says how long to wait in its header, not in its error.
    const wait = Number(reply.getHeader('retry-after'))
    if (answer.statusCode === 429 && answer.retryAfter === undefined && Number.isInteger(wait) && wait > 0) answer.retryAfter = wait
    // Shedding load is the plan working, not a failure; a database outage
    // is a warning of one line per request, not a stack trace each.
    if (answer.code === 'database_unavailable') request.log.warn({ err: err.message }, 'database unavailable')
    else if (answer.statusCode >= 500 && answer.code !== 'overloaded') request.log.error({ err }, 'request failed')
    return sendError(request, reply, answer)
  })
  fastify.setNotFoundHandler((request, reply) => {
    return sendError(request, reply, { statusCode: 404, code: 'not_found', message: 'There is nothing here.' })
  })
}, { name: 'errors', dependencies: ['views'] })
