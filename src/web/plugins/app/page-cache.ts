import { createHash } from 'node:crypto'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { brotliCompress, constants as zlib, gzip } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import { failuresOnce } from '../../../db/connect.ts'
import type { Database } from '../../../db/database.ts'
import { type Actor, isStaff } from '../../../domain/actors.ts'
import { type DutyNow, dutyNow } from '../../../domain/duty.ts'
import { overloaded } from '../../../domain/errors.ts'
import type { ActiveSession } from '../../../domain/sessions.ts'
import type { ThreadEvent } from '../../../live/events.ts'
import { LOCALE_COOKIE, type Locale, fromAcceptLanguage, isLocale, pickLocale } from '../../i18n.ts'
import { type ThreadView, loadThreadView } from '../../routes/pages/thread-view.ts'
import { ReadReplicas } from '../../read-replicas.ts'
import { type Cached, ThreadCache, isFailure } from '../../thread-cache.ts'
import { CSRF_COOKIE } from '../external/security.ts'
import { SESSION_COOKIE } from './auth.ts'
import { SHED_RETRY_AFTER } from './pressure.ts'

declare module 'fastify' {
  interface FastifyInstance {
    pageCache: PageCache
  }
  interface FastifyContextConfig {
    /**
     * Makes a GET route's page cacheable for anonymous readers: says which
     * page a request asks for, or null when it is not one of the cached
     * variants (a paged view, a bad id); the route then answers with
     * `fastify.pageCache.send`.
     */
    cachedPage?: (request: FastifyRequest) => CachedPage | null
  }
}

const gzipAsync = promisify(gzip)
const brotliAsync = promisify(brotliCompress)

/** How long a page is kept while the instance does not hear other instances' events. */
const UNHEARD_MAX_AGE_MS = 2_000

/** Anonymous readers' pages: short-lived here, and for a proxy in front, which may keep serving them while we are down. */
export const PUBLIC_CACHE_CONTROL = 'public, max-age=5, stale-while-revalidate=30, stale-if-error=86400'
export const PRIVATE_CACHE_CONTROL = 'private, no-store'
const VARY = 'Accept-Encoding, Accept-Language, Cookie'
const HTML = 'text/html; charset=utf-8'
const DUTY_MAX_AGE_MS = 5_000
/** Where the layout leaves room for the "as of" notice of a page served while the database is away. */
export const AS_OF_SLOT = '<!--as-of-->'

export interface CachedPage {
  /** What the page shows, before the locale: e.g. `thread:7:official`. */
  key: string
  /** The thread whose events make the page stale; null for the incident list, which every event does. */
  threadId: number | null
}

export interface PageCacheOptions {
  /** Off: every page is rendered for every request (to measure what the cache saves). */
  enabled?: boolean
  /**
   * Age after which an entry is rendered again, by the app's clock: pages say
   * "next update in N min", which changes without an event. Until the new one
   * is ready, readers get the old one.
   */
  maxAgeMs?: number
  /** The most pages kept; the longest kept goes first. */
  maxEntries?: number
  /** Signed-in readers' pages kept, at most. */
  maxPersonalEntries?: number
  /** Milliseconds of each turn of the event loop spent sending cached answers, at most; see `takeTurns`. */
  turnBudgetMs?: number
  /** Called with each key actually rendered for the cache (tests count renders). */
  onRender?: (key: string) => void
}

interface Variant {
  body: Buffer
  /** For Fastify's reply: the page's own headers (the security headers come from their hook). */
  headers: Record<string, string>
  /** For Node's `writeHead`: every header of the answer, the security headers and length included. */
  all: Record<string, string>
  /** Its own strong validator: each encoding of the page is a representation of its own (RFC 9110, 8.8.3). */
  etag: string
  /** The headers of a 304 to a reader who has this variant. */
  notModified: Record<string, string>
}

interface Entry {
  identity: Variant
  gzip: Variant
  br: Variant
  /** The same page with its "as of" notice, made the first time it is needed. */
  asOf?: Promise<Entry>
}

export interface PageCache {
  /**
   * What a thread's page is made of (its first page of posts, all or official
   * only): read from the database once per event of the thread, for every
   * viewer, signed in or not.
   */
  threadView: (threadId: number, official: boolean) => Promise<ThreadView>
  /**
   * Reads what a reader's page shows: from a read replica
   * (DATABASE_REPLICA_URLS) once it holds all the primary held when asked,
   * else from the primary (`ReadReplicas`).
   */
  read: <T>(load: (db: Kysely<Database>) => Promise<T>) => Promise<T>
  /**
   * Who is on duty, shown on every page: read at most every few seconds, and
   * at once after a check-in, handover or check-out on this instance.
   */
  duty: () => Promise<DutyNow>
  /**
   * Answers a route marked with `cachedPage`: from the cache for anonymous
   * readers, rendered for everyone else. Hits are answered before the route
   * is reached; this handles what is left.
   */
  send: (request: FastifyRequest, reply: FastifyReply, render: () => Promise<string | Buffer>) => Promise<FastifyReply>
  /** Who is on duty changed: every page shows it. */
  dropAll: () => void
  /** A thread's event `seq` committed: its pages and the incident list are stale (once per seq). */
  dropThread: (threadId: number, seq: number) => void
  /** Events committed by a request: its browser is told how far its own writes went (`SEEN_COOKIE`). */
  wrote: (request: FastifyRequest, events: readonly ThreadEvent[]) => void
  /** A signed-in reader did what their own pages show, with no event (a flag): their pages on this instance are made again. */
  readerActed: (userId: number) => void
  /**
   * The front door, called by the HTTP server before Fastify sees a request:
   * answers it, and returns true, when it asks for a cached page at an
   * address Fastify already led to that page, as an anonymous reader whose
   * page is fresh or being rendered after an event, or as a signed-in reader
   * whose session and page are both kept (`personalDoor`); `fallback`
   * (Fastify's handler) takes the request after all, should a render fail.
   */
  frontDoor: (request: IncomingMessage, response: ServerResponse, fallback: RequestListener) => boolean
}

/** A signed-in reader's page, kept compressed in the encoding they asked for. */
interface PersonalEntry {
  encoding: 'br' | 'gzip'
  body: Buffer
  /** For Node's `writeHead`: every header of the answer, the security headers and length included. */
  all: Record<string, string>
}

const PERSONAL_HEADERS = {
  br: { 'cache-control': PRIVATE_CACHE_CONTROL, vary: VARY, 'content-type': HTML, 'content-encoding': 'br' },
  gzip: { 'cache-control': PRIVATE_CACHE_CONTROL, vary: VARY, 'content-type': HTML, 'content-encoding': 'gzip' }
}

const asBytes = (html: string | Buffer): Buffer => typeof html === 'string' ? Buffer.from(html) : html

function compress (html: Buffer, encoding: 'br' | 'gzip'): Promise<Buffer> {
  return encoding === 'gzip'
    ? gzipAsync(html, { level: 6 })
    // Quality 5 compresses nearly as well as 11 at a small fraction of the time a miss waits.
    : brotliAsync(html, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: html.length } })
}

/**
 * The query keys that change what a cached page shows: with one, the page is
 * rendered. Any other key leaves the cached page as it is: ?view= picks a
 * cached variant, and a shared link's ?utm_source= or ?fbclid= must not cost
 * the crowd a render, nor get shed.
 */
const RENDERED_QUERY_KEYS = new Set(['after', 'before', 'replyTo', 'lang', 'flagged', 'unpinned'])

function parseEncoding (acceptEncoding: string): 'br' | 'gzip' | 'identity' {
  const offered = new Map<string, number>()
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find((v) => v !== undefined)
    offered.set(name!, q === undefined ? 1 : Number(q))
  }
  if ((offered.get('br') ?? 0) > 0) return 'br'
  if ((offered.get('gzip') ?? 0) > 0) return 'gzip'
  return 'identity'
}

/**
 * A request header read through `parse` once per distinct value: browsers
 * send a handful of distinct Accept-Encoding or Accept-Language values.
 */
function readOnce<T> (parse: (value: string) => T, absent: T): (value: string | undefined) => T {
  const seen = new Map<string, T>()
  return (value) => {
    if (value === undefined) return absent
    let parsed = seen.get(value)
    if (parsed === undefined) {
      parsed = parse(value)
      if (seen.size >= 256) seen.clear()
      seen.set(value, parsed)
    }
    return parsed
  }
}

const pickEncoding = readOnce(parseEncoding, 'identity')

/**
 * The cookie that tells every instance how far its browser's own writes went,
 * as signed "thread.seq" pairs. Another instance hears of an event a moment
 * after its commit (its LISTEN); a writer sent there by the load balancer
 * right after being told their post is saved has that instance drop what it
 * kept of the thread, as the notification will, instead of seeing the page
 * without their post.
 */
export const SEEN_COOKIE = 'sitrep_seen'
const SEEN_MAX_AGE_S = 60
/** The threads it names at most: the latest a browser wrote to. */
const SEEN_THREADS = 8

declare module 'fastify' {
  interface FastifyRequest {
    /** The last event seq committed by the request, per thread (`pageCache.wrote`). */
    written: Map<number, number> | null
  }
}

/** The thread-and-seq pairs of a seen cookie, if its signature holds. */
function seenIn (request: FastifyRequest, cookie: string): Map<number, number> {
  const seen = new Map<number, number>()
  const { valid, value } = request.unsignCookie(cookie)
  if (!valid || value === null) return seen
  for (const pair of value.split(',')) {
    const [threadId, seq] = pair.split('.').map(Number)
    if (Number.isSafeInteger(threadId) && Number.isSafeInteger(seq)) seen.set(threadId!, seq!)
  }
  return seen
}

function etagMatches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header === etag) return true
  return header.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === etag || trimmed === `W/${etag}` || trimmed === '*'
  })
}

async function makeEntry (html: string | Buffer, securityHeaders: Readonly<Record<string, string>>): Promise<Entry> {
  const body = asBytes(html)
  const [gz, br] = await Promise.all([compress(body, 'gzip'), compress(body, 'br')])
  const digest = createHash('sha256').update(body).digest('base64url').slice(0, 27)
  // Every header of an answer is worked out here, once, not per reader.
  const variant = (bytes: Buffer, encoding: string | undefined): Variant => {
    const etag = encoding === undefined ? `"${digest}"` : `"${digest}-${encoding}"`
    const notModified = { 'cache-control': PUBLIC_CACHE_CONTROL, vary: VARY, etag }
    const headers = { ...notModified, 'content-type': HTML, ...(encoding !== undefined && { 'content-encoding': encoding }) }
    return { body: bytes, headers, all: { ...securityHeaders, ...headers, 'content-length': String(bytes.length) }, etag, notModified }
  }
  return { identity: variant(body, undefined), gzip: variant(gz, 'gzip'), br: variant(br, 'br') }
}

function answer (request: FastifyRequest, reply: FastifyReply, entry: Entry): FastifyReply {
  const variant = entry[pickEncoding(request.headers['accept-encoding'])]
  if (etagMatches(request.headers['if-none-match'], variant.etag)) return reply.code(304).headers(variant.notModified).send()
  return reply.headers(variant.headers).send(variant.body)
}

/** The same answer as `answer`, written straight to Node's response. */
function answerRaw (request: IncomingMessage, response: ServerResponse, entry: Entry): void {
  // A 304 carries what a cache needs to update what it kept (RFC 9110,
  // 15.4.5): the page's security headers stay those of its 200.
  const variant = entry[pickEncoding(request.headers['accept-encoding'])]
  if (etagMatches(request.headers['if-none-match'], variant.etag)) {
    response.writeHead(304, variant.notModified).end()
    return
  }
  sendRaw(request, response, variant.all, variant.body)
}

/** A 200 written straight to Node's response, with every header worked out beforehand; a HEAD gets the headers alone. */
function sendRaw (request: IncomingMessage, response: ServerResponse, headers: Record<string, string>, body: Buffer): void {
  response.writeHead(200, headers)
  if (request.method === 'HEAD') response.end()
  else response.end(body)
}

const languageOf = readOnce<Locale>(fromAcceptLanguage, 'en')

const actorKeys = new WeakMap<Actor, string>()
/**
 * Everything about the reader a page may show, as a key: worked out once for
 * each actor a session holds (a kept session keeps its actor until the user changes).
 */
function actorKey (actor: Actor): string {
  let key = actorKeys.get(actor)
  if (key === undefined) {
    key = JSON.stringify(actor)
    actorKeys.set(actor, key)
  }
  return key
}


/**
 * Runs jobs for at most `budgetMs` of each turn of the event loop; the others
 * wait for the next turns, in order. A crowd of readers answered from memory
 * would otherwise fill each turn (a thousand pipelined requests make a turn of
 * tens of milliseconds), and a technician's post, which waits one turn for
 * each of its database round trips, would take seconds. Within the budget, a
 * turn serves as many readers as it can: counted in time, not in answers, the
 * budget holds whatever an answer costs, a 304 or a page, on any machine.
 */
export function takeTurns (budgetMs: number): (job: () => void) => void {
  const waiting: Array<() => void> = []
  let next = 0
  let spentThisTurn = 0
  let scheduled = false
  const nextTurn = () => {
    scheduled = false
    const started = performance.now()
    let ran = 0
    while (next < waiting.length && (ran === 0 || performance.now() - started < budgetMs)) {
      const job = waiting[next]!
      waiting[next++] = undefined!
      ran++
      job()
    }
    if (next === waiting.length) {
      waiting.length = 0
      next = 0
    } else if (next >= 4096) {
      waiting.splice(0, next)
      next = 0
    }
    spentThisTurn = performance.now() - started
    // Scheduled from a check phase, the next one runs after the next poll phase: other I/O goes in between.
    if (ran > 0) schedule()
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(nextTurn)
  }
  return (job) => {
    if (spentThisTurn < budgetMs && next === waiting.length) {
      schedule()
      const started = performance.now()
      job()
      spentThisTurn += performance.now() - started
      return
    }
    waiting.push(job)
    schedule()
  }
}

/**
 * Rendered pages for anonymous readers, in memory and pre-compressed, so a
 * flash crowd costs a lookup per reader. Registered right after the security
 * plugin: a hit is answered before the session, CSRF, shift and pressure hooks
 * run, none of which an anonymous cached page needs.
 */
export default fp<PageCacheOptions>(async (fastify, options) => {
  const enabled = options.enabled ?? true
  const maxAgeMs = options.maxAgeMs ?? 30_000
  const rendering = failuresOnce(fastify.log, 'render the kept pages (they are served as they were meanwhile)')
  const inTurn = takeTurns(options.turnBudgetMs ?? 0.25)
  const now = () => fastify.deps.now().getTime()
  const pages = new ThreadCache<Entry>({ maxEntries: options.maxEntries ?? 1_000, now })
  const threadViews = new ThreadCache<ThreadView>({ maxEntries: 200, now })
  // Signed-in readers' pages, one per reader, session and page: a few KB each, compressed.
  const personalPages = new ThreadCache<PersonalEntry>({ maxEntries: options.maxPersonalEntries ?? 5_000, now })
  // By user: what each did that their own pages show, with no event to say so.
  const actsOf = new Map<number, number>()
  const readerActed = (userId: number): void => {
    if (actsOf.size >= 100_000) actsOf.clear()
    actsOf.set(userId, (actsOf.get(userId) ?? 0) + 1)
  }
  /**
   * A signed-in reader's page: who they are (as their session says now), their
   * session, the CSRF secret their page's tokens are made from, and how many
   * times they did what only their pages show.
   */
  const personalKey = (locale: Locale, pageKey: string, sessionId: string, csrfSecret: string, actor: Actor) =>
    `${locale}|${pageKey}|${sessionId}|${csrfSecret}|${actorKey(actor)}|${actsOf.get(actor.id) ?? 0}`

  /** The cached page this request asks for, if it is one; whether the reader's own is for the caller to say. */
  const pageOf = (request: FastifyRequest): CachedPage | null => {
    const method = request.method
    if (!enabled || (method !== 'GET' && method !== 'HEAD')) return null
    const cachedPage = request.routeOptions.config.cachedPage
    if (cachedPage === undefined) return null
    for (const key in request.query as Record<string, unknown>) {
      // ?lang= is rendered, to remember the choice in a cookie; while renders
      // are shed, the cached page in that language answers instead.
      if (RENDERED_QUERY_KEYS.has(key) && (key !== 'lang' || !fastify.underPressure())) return null
    }
    return cachedPage(request)
  }

  // While this instance does not hear the others' events (its LISTEN
  // connection lost), a page kept more than a moment may lack one of their
  // posts: it is as good as stale.
  const outdated = (cached: Cached<unknown>) => cached.stale || (!fastify.notifications.listening && now() - cached.madeAt >= UNHEARD_MAX_AGE_MS)
  const fresh = (cached: Cached<unknown>) => !outdated(cached) && now() - cached.madeAt < maxAgeMs

  // Which cached page each address led to, as Fastify routed it for an
  // anonymous reader; the language comes from the request. Bounded: any slug
  // leads to a thread, so the addresses are many.
  const pageAt = new Map<string, string>()
  const remember = (url: string, page: CachedPage): void => {
    if (pageAt.get(url) === page.key) return
    if (pageAt.size >= 10_000) pageAt.clear()
    pageAt.set(url, page.key)
  }
  let closing = false
  fastify.addHook('preClose', (done) => { closing = true; done() })
  // Answers from the front door leave no line each: a count now and then
  // says what they did, anonymous readers' pages and signed-in readers' apart.
  let answeredAtDoor = 0
  let personalAtDoor = 0
  const doorLog = setInterval(() => {
    if (answeredAtDoor === 0 && personalAtDoor === 0) return
    fastify.log.info({ pages: answeredAtDoor, personal: personalAtDoor }, 'cached pages answered before routing in the last minute')
    answeredAtDoor = 0
    personalAtDoor = 0
  }, 60_000).unref()
  // The sessions the auth plugin keeps, once every plugin is in: without it, no session is kept.
  let keptSession: (token: string) => ActiveSession | undefined = () => undefined
  fastify.addHook('onReady', (done) => {
    if (fastify.hasDecorator('keptSession')) keptSession = fastify.keptSession
    done()
  })
  fastify.addHook('onClose', (_instance, done) => { clearInterval(doorLog); done() })

  /**
   * A signed-in reader's reload, answered before Fastify as an anonymous
   * reader's is, when both their session (see `keptSession`) and their page
   * are kept: between events, a crowd of customers signed in costs about what
   * a crowd of readers does. A session to look up, or a page to render, is Fastify's.
   */
  const personalDoor = (request: IncomingMessage, response: ServerResponse, cookie: string): boolean => {
    const headers = request.headers
    const key = pageAt.get(request.url!)
    if (key === undefined) return false
    const encoding = pickEncoding(headers['accept-encoding'])
    if (encoding === 'identity') return false
    const cookies = fastify.parseCookie(cookie)
    const token = cookies[SESSION_COOKIE]
    const secret = cookies[CSRF_COOKIE]
    if (token === undefined || secret === undefined) return false
    const session = keptSession(token)
    if (session === undefined) return false
    // As `pickLocale` picks it for a page: the language chosen in this browser, the account's, the browser's.
    const chosen = cookies[LOCALE_COOKIE]
    const locale = isLocale(chosen) ? chosen : session.actor.locale ?? languageOf(headers['accept-language'])
    const cached = personalPages.get(personalKey(locale, key, session.sessionId, secret, session.actor))
    if (cached === undefined || !fresh(cached) || cached.value.encoding !== encoding) return false
    personalAtDoor++
    const entry = cached.value
    const answer = () => sendRaw(request, response, entry.all, entry.body)
    // A customer is one of the crowd, answered in turns; the staff are answered at once.
    if (isStaff(session.actor)) answer()
    else inTurn(answer)
    return true
  }

  const frontDoor = (request: IncomingMessage, response: ServerResponse, fallback: RequestListener): boolean => {
    const method = request.method
    if (!enabled || closing || (method !== 'GET' && method !== 'HEAD')) return false
    const headers = request.headers
    if (headers.authorization !== undefined) return false
    const cookie = headers.cookie
    // A writer whose write this instance may not have heard of: Fastify's hooks see to it first.
    if (cookie !== undefined && cookie.includes(SEEN_COOKIE)) return false
    if (cookie !== undefined && cookie.includes(SESSION_COOKIE)) return personalDoor(request, response, cookie)
    // A chosen language: Fastify reads the cookies.
    if (cookie !== undefined && cookie.includes(LOCALE_COOKIE)) return false
    const key = pageAt.get(request.url!)
    if (key === undefined) return false
    const fullKey = `${languageOf(headers['accept-language'])}|${key}`
    const cached = pages.get(fullKey)
    if (cached !== undefined && fresh(cached)) {
      answeredAtDoor++
      inTurn(() => answerRaw(request, response, cached.value))
      return true
    }
    // Right after an event the whole crowd asks for the page being rendered
    // again: they wait for it here, not each through Fastify's hooks. (A page
    // only old, or kept while the database is away, is Fastify's to answer at
    // once.)
    if (cached !== undefined && (!outdated(cached) || cached.failedAt !== undefined)) return false
    const making = pages.making(fullKey)
    if (making === undefined) return false
    answeredAtDoor++
    making.then((entry) => { inTurn(() => answerRaw(request, response, entry)) }, () => { fallback(request, response) })
    return true
  }

  // A browser's own writes, which this instance may not have heard of yet, make what it kept of their threads stale.
  fastify.addHook('onRequest', (request, _reply, done) => {
    const cookie = request.cookies[SEEN_COOKIE]
    if (cookie !== undefined) for (const [threadId, seq] of seenIn(request, cookie)) dropThread(threadId, seq)
    done()
  })

  // A fresh page for an anonymous reader is sent from here, before any other hook.
  fastify.addHook('onRequest', (request, reply, done) => {
    const anonymous = request.headers.authorization === undefined && request.cookies[SESSION_COOKIE] === undefined
    const page = anonymous ? pageOf(request) : null
    if (page === null) return done()
    // The front door reads the language from the headers alone.
    if ((request.query as Record<string, unknown>).lang === undefined) remember(request.url, page)
    const cached = pages.get(`${pickLocale(request)}|${page.key}`)
    if (cached === undefined || !fresh(cached)) return done()
    inTurn(() => answer(request, reply, cached.value))
  })

  const replicas = new ReadReplicas(fastify.db, fastify.database.replicas, fastify.log, now)
  const read = <T>(load: (db: Kysely<Database>) => Promise<T>): Promise<T> => replicas.read(load)
  if (replicas.count > 0) fastify.log.info({ replicas: replicas.count }, 'readers\' pages read from replicas that hold what the primary holds')

  // Our own events come back from the relay's notifications: they must not drop a page rendered since.
  const seenSeq = new Map<number, number>()
  const dropThread = (threadId: number, seq: number): void => {
    if (seq <= (seenSeq.get(threadId) ?? 0)) return
    seenSeq.set(threadId, seq)
    pages.dropThread(threadId)
    threadViews.dropThread(threadId)
    personalPages.dropThread(threadId)
  }
  fastify.decorateRequest('written', null)
  const wrote = (request: FastifyRequest, events: readonly ThreadEvent[]): void => {
    const written = request.written ??= new Map<number, number>()
    for (const event of events) written.set(event.threadId, Math.max(event.seq, written.get(event.threadId) ?? 0))
  }
  // A browser signed in is told how far its writes went, for the instance its next page comes from.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const written = request.written
    if (written !== null && request.authVia === 'session') {
      const earlier = request.cookies[SEEN_COOKIE]
      const seen = earlier === undefined ? new Map<number, number>() : seenIn(request, earlier)
      // The latest last: the oldest go when there are too many.
      for (const [threadId, seq] of written) {
        seen.delete(threadId)
        seen.set(threadId, seq)
      }
      const value = [...seen].slice(-SEEN_THREADS).map(([threadId, seq]) => `${threadId}.${seq}`).join(',')
      reply.setCookie(SEEN_COOKIE, value, { ...fastify.cookieOptions, maxAge: SEEN_MAX_AGE_S, signed: true })
    }
    done(null, payload)
  })

  let dutyRead: { value: Promise<DutyNow>, madeAt: number } | undefined
  const dropAll = (): void => {
    pages.dropAll()
    threadViews.dropAll()
    personalPages.dropAll()
    dutyRead = undefined
  }
  // Events committed while this instance did not listen went unheard: what
  // was kept then may lack another instance's post.
  fastify.notifications.onListening(dropAll)
  // Short-lived: a check-in on another instance shows here within seconds, not a page's 30.
  const duty = (): Promise<DutyNow> => {
    if (!enabled) return dutyNow(fastify.db, fastify.deps.now())
    if (dutyRead === undefined || now() - dutyRead.madeAt >= DUTY_MAX_AGE_MS) {
      const read = { value: dutyNow(fastify.db, fastify.deps.now()), madeAt: now() }
      dutyRead = read
      read.value.catch(() => { if (dutyRead === read) dutyRead = undefined })
    }
    return dutyRead.value
  }

  // Kept at most `maxAgeMs` too: a user's new name, say, comes with no event.
  const threadView = async (threadId: number, official: boolean): Promise<ThreadView> => {
    const load = () => read((db) => loadThreadView(db, threadId, { official }))
    if (!enabled) return await load()
    const key = `${threadId}:${official ? 'official' : 'all'}`
    const cached = threadViews.get(key)
    if (cached !== undefined && fresh(cached)) return cached.value
    return await threadViews.make(key, threadId, load)
  }

  const rendered = (fullKey: string, page: CachedPage, render: () => Promise<string | Buffer>): Promise<Entry> =>
    pages.make(fullKey, page.threadId, async () => {
      options.onRender?.(fullKey)
      try {
        const entry = await makeEntry(await render(), fastify.securityHeaders)
        rendering.worked()
        return entry
      } catch (err) {
        // The database away: readers get the page as it was, and the log a line for the outage.
        if (isFailure(err)) rendering.failed(err)
        throw err
      }
    })

  /** The page as it was, marked "as of" the time it was rendered: for readers while the database is away. */
  const asOf = ({ value: entry, madeAt }: Cached<Entry>, locale: FastifyRequest['locale']): Promise<Entry> => {
    entry.asOf ??= (async () => {
      const notice = fastify.views.partial('as-of', { locale, renderedAt: new Date(madeAt).toISOString() })
      return await makeEntry(entry.identity.body.toString().replace(AS_OF_SLOT, notice), fastify.securityHeaders)
    })()
    return entry.asOf
  }

  /**
   * A signed-in reader's page, rendered for them and kept compressed until the
   * thread's next event: their reloads cost a lookup (at the front door, once
   * their session is kept too), and a few KB on the wire instead of the whole
   * page. Everything personal on it is in the key (`personalKey`).
   */
  const sendPersonal = async (request: FastifyRequest, reply: FastifyReply, page: CachedPage | null, render: () => Promise<string | Buffer>): Promise<FastifyReply | null> => {
    const secret = request.cookies[CSRF_COOKIE]
    const encoding = pickEncoding(request.headers['accept-encoding'])
    if (page === null || secret === undefined || request.sessionId === null || encoding === 'identity') return null
    const key = personalKey(request.locale, page.key, request.sessionId, secret, request.actor!)
    // The front door finds the page by its address, as an anonymous reader's.
    if ((request.query as Record<string, unknown>).lang === undefined) remember(request.url, page)
    const cached = personalPages.get(key)
    const entry = cached !== undefined && fresh(cached) && cached.value.encoding === encoding
      ? cached.value
      : await personalPages.make(key, page.threadId, async () => {
        options.onRender?.(`personal|${request.locale}|${page.key}`)
        const body = await compress(asBytes(await render()), encoding)
        return { encoding, body, all: { ...fastify.securityHeaders, ...PERSONAL_HEADERS[encoding], 'content-length': String(body.length) } }
      })
    // Another encoding was being made for the same reader: this one is rendered for them.
    if (entry.encoding !== encoding) return null
    return reply.headers(PERSONAL_HEADERS[encoding]).send(entry.body)
  }

  // Everyone who waited for a render is answered when it is done: in turns too, not in one burst.
  const answerInTurn = (request: FastifyRequest, reply: FastifyReply, entry: Entry): Promise<FastifyReply> =>
    new Promise((resolve) => { inTurn(() => resolve(answer(request, reply, entry))) })

  const send = async (request: FastifyRequest, reply: FastifyReply, render: () => Promise<string | Buffer>): Promise<FastifyReply> => {
    const cachedPage = pageOf(request)
    if (request.actor !== null) {
      const personal = await sendPersonal(request, reply, cachedPage, render)
      if (personal !== null) return personal
    }
    const page = request.actor === null ? cachedPage : null
    if (page === null) {
      if (request.actor === null && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
      // Sent as bytes: as a string, a page of 200 posts would be measured, then encoded.
      const html = asBytes(await render())
      // A signed-in page, or one setting a cookie (a language chosen with ?lang=), is no cache's to keep.
      if (request.actor !== null || (request.query as Record<string, unknown>).lang !== undefined) reply.header('cache-control', PRIVATE_CACHE_CONTROL)
      return reply.type(HTML).send(html)
    }
    const fullKey = `${request.locale}|${page.key}`
    const cached = pages.get(fullKey)
    if (cached !== undefined && fresh(cached)) return answer(request, reply, cached.value)
    if (cached === undefined) {
      // A miss is the expensive part: under pressure it is what gets shed.
      if (pages.making(fullKey) === undefined && fastify.underPressure()) throw overloaded(SHED_RETRY_AFTER)
      return await answerInTurn(request, reply, await rendered(fullKey, page, render))
    }
    // A page a little old (no event made it wrong; only its "next update in
    // N min" moved), or any page while the process is overloaded or the
    // database away, is answered at once while its successor renders. After an
    // event, or a long quiet, readers wait for the new page.
    const failing = cached.failedAt !== undefined
    const slightlyOld = !outdated(cached) && now() - cached.madeAt < 2 * maxAgeMs
    if (slightlyOld || failing || fastify.underPressure()) {
      if (pages.making(fullKey) === undefined) rendered(fullKey, page, render).catch((err: unknown) => { if (!isFailure(err)) request.log.warn({ err }, 'could not render a kept page again') })
      return answer(request, reply, failing ? await asOf(cached, request.locale) : cached.value)
    }
    try {
      return await answerInTurn(request, reply, await rendered(fullKey, page, render))
    } catch (err) {
      if (!isFailure(err)) throw err
      return answer(request, reply, await asOf(cached, request.locale))
    }
  }

  fastify.decorate('pageCache', { send, threadView, read, duty, dropThread, wrote, dropAll, readerActed, frontDoor })
}, { name: 'page-cache', dependencies: ['security'] })
