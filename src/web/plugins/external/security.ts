import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'
import type { Config } from '../../../config.ts'

export interface SecurityPluginOptions { config: Config }

export default fp<SecurityPluginOptions>(async (fastify, { config }) => {
  const https = config.publicUrl.startsWith('https:')
  await fastify.register(helmet, {
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
    crossOriginEmbedderPolicy: false
  })
  await fastify.register(cookie, { secret: config.sessionSecret })
  await fastify.register(formbody, { bodyLimit: 64 * 1024 })
  await fastify.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'sitrep_csrf',
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, signed: true, secure: https },
    // Binds tokens to the session, so a cookie planted from elsewhere is useless.
    getUserInfo: (request) => request.sessionId ?? 'anonymous',
    csrfOpts: { hmacKey: config.sessionSecret }
  })
}, { name: 'security' })
