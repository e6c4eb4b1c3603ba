// The floor of the page figures: a bare Fastify route sending a pre-built
// buffer of the cached page's size with the same headers (security and cache
// headers), and the same 304 (which, like Sitrep's, carries only what a cache
// needs to update what it kept: RFC 9110, 15.4.5), with nothing else. Measured
// in the same run as Sitrep, it says how much of the gap to hello-world is the
// answer itself.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import { helmetHeaders, helmetOptions } from '../src/web/plugins/external/security.ts'
import { PUBLIC_CACHE_CONTROL } from '../src/web/plugins/app/page-cache.ts'

const body = randomBytes(Number(process.env.BODY_BYTES ?? 4900))
const etag = '"floor-floor-floor-floor-floor"'
const cacheHeaders = { 'cache-control': PUBLIC_CACHE_CONTROL, vary: 'Accept-Encoding, Accept-Language, Cookie', etag }
const headers = { ...helmetHeaders(helmetOptions(false)), ...cacheHeaders }
const app = Fastify({ logger: false })
app.get('/', async (request, reply) => {
  if (request.headers['if-none-match'] === etag) return reply.code(304).headers(cacheHeaders).send()
  return reply.headers(headers).header('content-type', 'text/html; charset=utf-8').header('content-encoding', 'br').send(body)
})
await app.listen({ port: Number(process.env.PORT ?? 3904), host: '127.0.0.1' })
