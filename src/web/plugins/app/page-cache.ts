import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, constants as zlib, gzip } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { overloaded } from '../../../domain/errors.ts'
import { SHED_RETRY_AFTER } from './pressure.ts'

declare module 'fastify' {
  interface FastifyInstance {
    pageCache: PageCache
  }
}

const gzipAsync = promisify(gzip)
const brotliAsync = promisify(brotliCompress)

/** Anonymous readers' pages: short-lived here, and for a proxy in front, which may keep serving them while we are down. */
export const PUBLIC_CACHE_CONTROL = 'public, max-age=5, stale-while-revalidate=30, stale-if-error=86400'
export const PRIVATE_CACHE_CONTROL = 'private, no-store'
const VARY = 'Accept-Encoding, Accept-Language, Cookie'

export interface PageCacheOptions {
  /** Off: every page is rendered for every request (to measure what the cache saves). */
  enabled?: boolean
  /**
   * Age after which an entry is rendered again, by the app's clock (the old one
   * is still served under pressure or when the database fails): pages say
   * "next update in N min", which changes without an event.
   */
  maxAgeMs?: number
  /** Called with each key actually rendered for the cache (tests count renders). */
  onRender?: (key: string) => void
}

export interface PageSpec {
  /** What the page shows, before the locale: e.g. `thread:7:official`. */
  key: string
  /** The thread whose events make the page stale; null for the incident list, which every event does. */
  threadId: number | null
  /** Renders the page's HTML (never sent by itself). */
  render: () => Promise<string>
}

interface Entry {
  etag: string
  html: Buffer
  gzip: Buffer
  br: Buffer
  renderedAt: number
}

export interface PageCache {
  /** Sends the page: from the cache for anonymous readers, rendered for everyone else. */
  send: (request: FastifyRequest, reply: FastifyReply, spec: PageSpec) => Promise<FastifyReply>
  /** Whether this request would be answered from the cache. */
  cacheable: (request: FastifyRequest) => boolean
  /** Who is on duty changed: every page shows it. */
  dropAll: () => void
  /** A thread's event `seq` committed: its pages and the incident list are stale (once per seq). */
  dropThread: (threadId: number, seq: number) => void
}

/** Only the query keys that select a cached variant; anything else (?lang=, ?after=, ?replyTo=) is rendered. */
const CACHED_QUERY_KEYS = new Set(['view'])

function pickEncoding (acceptEncoding: string | undefined): 'br' | 'gzip' | null {
  if (acceptEncoding === undefined) return null
  // Browsers send "gzip, deflate, br"; a client refusing one with q=0 is rare enough to be told apart simply.
  const offered = new Map<string, number>()
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find((v) => v !== undefined)
    offered.set(name!, q === undefined ? 1 : Number(q))
  }
  if ((offered.get('br') ?? 0) > 0) return 'br'
  if ((offered.get('gzip') ?? 0) > 0) return 'gzip'
  return null
}

function etagMatches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === etag || trimmed === `W/${etag}` || trimmed === '*'
  })
}

async function makeEntry (html: string, renderedAt: number): Promise<Entry> {
  const body = Buffer.from(html)
  const [gz, br] = await Promise.all([
    gzipAsync(body, { level: 6 }),
    // Quality 5 compresses nearly as well as 11 at a small fraction of the time a miss waits.
    brotliAsync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } })
  ])
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
  return { etag, html: body, gzip: gz, br, renderedAt }
}

export default fp<PageCacheOptions>(async (fastify, options) => {
  const enabled = options.enabled ?? true
  const maxAgeMs = options.maxAgeMs ?? 30_000
  const now = () => fastify.deps.now().getTime()
  const entries = new Map<string, Entry>()
  const inFlight = new Map<string, Promise<Entry>>()
  // Bumped on every event: a render that began before it is not kept.
  const generations = new Map<number | null, number>()
  const generationOf = (threadId: number | null) => generations.get(threadId) ?? 0
  const keysByThread = new Map<number | null, Set<string>>()

  const cacheable = (request: FastifyRequest): boolean => {
    if (!enabled || request.actor !== null || request.method !== 'GET') return false
    const query = request.query as Record<string, unknown> | undefined
    return query === undefined || Object.keys(query).every((key) => CACHED_QUERY_KEYS.has(key))
  }

  // Our own events come back from the relay's notifications: they must not drop a page rendered since.
  const seenSeq = new Map<number, number>()
  const dropThread = (threadId: number, seq: number): void => {
    if (seq <= (seenSeq.get(threadId) ?? 0)) return
    seenSeq.set(threadId, seq)
    for (const owner of [threadId, null]) {
      generations.set(owner, generationOf(owner) + 1)
      for (const key of keysByThread.get(owner) ?? []) {
        entries.delete(key)
        inFlight.delete(key)
      }
      keysByThread.delete(owner)
    }
  }

  // Bumped when every page is stale at once.
  let epoch = 0
  const dropAll = (): void => {
    epoch++
    entries.clear()
    inFlight.clear()
    keysByThread.clear()
  }

  const entryFor = (fullKey: string, spec: PageSpec): Promise<Entry> => {
    const pending = inFlight.get(fullKey)
    if (pending !== undefined) return pending
    const generation = generationOf(spec.threadId)
    const epochAtStart = epoch
    const renderedAt = now()
    const rendering = (async () => {
      options.onRender?.(fullKey)
      return await makeEntry(await spec.render(), renderedAt)
    })()
    inFlight.set(fullKey, rendering)
    rendering.then((entry) => {
      if (inFlight.get(fullKey) === rendering) inFlight.delete(fullKey)
      if (generationOf(spec.threadId) !== generation || epoch !== epochAtStart) return
      entries.set(fullKey, entry)
      let keys = keysByThread.get(spec.threadId)
      if (keys === undefined) keysByThread.set(spec.threadId, keys = new Set())
      keys.add(fullKey)
    }, () => {
      if (inFlight.get(fullKey) === rendering) inFlight.delete(fullKey)
    })
    return rendering
  }

  const send = async (request: FastifyRequest, reply: FastifyReply, spec: PageSpec): Promise<FastifyReply> => {
    if (!cacheable(request)) {
      if (request.actor === null && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
      const html = await spec.render()
      if (request.actor !== null) reply.header('cache-control', PRIVATE_CACHE_CONTROL)
      return reply.type('text/html; charset=utf-8').send(html)
    }
    const fullKey = `${request.locale}|${spec.key}`
    const cached = entries.get(fullKey)
    const fresh = cached !== undefined && now() - cached.renderedAt < maxAgeMs
    let entry: Entry
    if (cached !== undefined && (fresh || (!inFlight.has(fullKey) && fastify.underPressure()))) {
      // Fresh; or old (never one an event dropped) but better than shedding the reader.
      entry = cached
    } else {
      // A miss is the expensive part: under pressure it is what gets shed.
      if (cached === undefined && !inFlight.has(fullKey) && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
      try {
        entry = await entryFor(fullKey, spec)
      } catch (err) {
        // The database is down: the last page rendered beats an error page.
        if (cached === undefined || (err as { statusCode?: number }).statusCode !== undefined) throw err
        entry = cached
      }
    }
    reply.header('cache-control', PUBLIC_CACHE_CONTROL).header('vary', VARY).header('etag', entry.etag)
    if (etagMatches(request.headers['if-none-match'], entry.etag)) return reply.code(304).send()
    reply.type('text/html; charset=utf-8')
    const encoding = pickEncoding(request.headers['accept-encoding'])
    if (encoding === 'br') return reply.header('content-encoding', 'br').send(entry.br)
    if (encoding === 'gzip') return reply.header('content-encoding', 'gzip').send(entry.gzip)
    return reply.send(entry.html)
  }

  fastify.decorate('pageCache', { send, cacheable, dropThread, dropAll })
}, { name: 'page-cache', dependencies: ['views', 'pressure'] })

