import type { IncomingMessage, ServerResponse } from 'node:http'
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { Config } from '../../../config.ts'
import { badRequest } from '../../../domain/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The security headers every answer carries (CSP, frame-ancestors, nosniff...). */
    securityHeaders: Readonly<Record<string, string>>
    /** What every cookie of ours is set with: the whole site, first-party, out of scripts' reach, HTTPS-only behind an https:// PUBLIC_URL. */
    cookieOptions: Readonly<{ path: '/', sameSite: 'lax', httpOnly: true, secure: boolean }>
  }
}

export interface SecurityPluginOptions { config: Config }

/** The cookie holding the browser's CSRF secret: the tokens in its pages' forms are made from it. */
export const CSRF_COOKIE = 'sitrep_csrf'

export function helmetOptions (https: boolean): HelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        ...(https && { upgradeInsecureRequests: [] })
      }
    },
    // HSTS only means something, and only belongs, on a site served over HTTPS.
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
    // Headers for browsers long gone (the XSS auditor, IE8 downloads, Flash
    // policies, DNS prefetch): each costs bytes and work on every answer, a
    // cached page's most of all, and protects nobody today.
    xXssProtection: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xDnsPrefetchControl: false
  }
}

/**
 * The headers helmet sets, worked out once. They are the same on every answer,
 * and building them per request (as @fastify/helmet does) cost a fifth of the
 * time of a cached page.
 */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: unknown) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    if (err !== undefined && err !== null) throw err
  })
  return headers
}

/** Bytes of a form's body: the longest post, each character URL-encoded at its longest, and room for the other fields. */
const FORM_BODY_LIMIT = 20_000 * 9 + 16 * 1024

export default fp<SecurityPluginOptions>(async (fastify, { config }) => {
  const https = config.publicUrl.startsWith('https:')
  const headers = Object.freeze(helmetHeaders(helmetOptions(https)))
  fastify.decorate('securityHeaders', headers)
  const cookieOptions = Object.freeze({ path: '/', sameSite: 'lax', httpOnly: true, secure: https } as const)
  fastify.decorate('cookieOptions', cookieOptions)
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers)
    // No body at all, whatever type it is said to be (client libraries type
    // every request: fetch's empty body is text), is read as no body.
    const { 'content-length': length, 'transfer-encoding': chunked } = request.headers
    if ((length === undefined || length === '0') && chunked === undefined) delete request.headers['content-type']
    done()
  })
  // A body is read as it comes: one compressed (Content-Encoding: gzip...)
  // would be read as text and refused for what it seems to say, or worse,
  // taken. Refused for what it is, as a body of the wrong type is (400).
  // A request without a body has nothing to read; a signed link's one-click
  // stop takes whatever body a mail client sends.
  fastify.addHook('preParsing', async (request) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase()
    if (encoding === undefined || encoding === '' || encoding === 'identity' || request.routeOptions.config.signedLink === true) return
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0
    if (hasBody) throw badRequest('unsupported_encoding', 'Send the body uncompressed: no Content-Encoding is accepted.')
  })
  await fastify.register(cookie, { secret: config.sessionSecret })
  // A post of the longest allowed (20,000 characters, counted as the text
  // box and the post's check count them: in UTF-16), as a browser encodes it:
  // each byte of UTF-8 as %XX, up to nine bytes for each of those characters.
  await fastify.register(formbody, { bodyLimit: FORM_BODY_LIMIT })
  // Bodies are JSON or forms: text is of a type not taken, as XML is, not a
  // body read as a string and refused for not being an object.
  fastify.removeContentTypeParser('text/plain')
  await fastify.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { ...cookieOptions, signed: true },
    // Binds tokens to the session, so a cookie planted from elsewhere is useless.
    getUserInfo: (request) => request.sessionId ?? 'anonymous',
    csrfOpts: { hmacKey: config.sessionSecret },
    // A refused form is the sender's mistake, answered 403 and logged with the
    // request: not a warning, or a flood of forged posts floods the log too.
    logLevel: 'debug'
  })
}, { name: 'security' })
