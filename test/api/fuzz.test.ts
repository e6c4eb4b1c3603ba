import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { createApiToken } from '../../src/domain/tokens.ts'
import { buildTestApp, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { openThread, writePost } from '../helpers/api.ts'
import { NAUGHTY_STRINGS, XSS_PAYLOADS } from '../helpers/hostile.ts'
import { signIn } from '../helpers/pages.ts'

const { app } = await buildTestApp(t)
const customer = await makeUser(app, 'customer')
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const admin = await makeUser(app, 'admin')
// Targets for the admins' calls, so random role changes and revocations never
// take away the powers of the users making the calls.
const victim = await makeUser(app, 'customer')
const victimTokens = await app.db.selectFrom('api_tokens').select('id').where('user_id', '=', victim.actor.id).execute()

const thread = await openThread(app, tech, { title: 'Fuzzed incident' })
const other = await openThread(app, tech, { title: 'Another incident' })
const update = await writePost(app, tech, thread.id, { body: 'An update.' })
const comment = await writePost(app, customer, thread.id, { body: 'A question?' })
const reply = await writePost(app, customer, other.id, { body: 'Elsewhere.' })
await app.inject({ method: 'POST', url: `/api/v1/posts/${comment.id}/flags`, headers: tech.auth, payload: { reason: 'spam' } })

type Kind = 'thread' | 'post' | 'user' | 'token'
const REAL_IDS: Record<Kind, string[]> = {
  thread: [thread.id, other.id].map(String),
  post: [update.id, comment.id, reply.id].map(String),
  user: [String(victim.actor.id)],
  token: victimTokens.map((row) => String(row.id))
}
const BAD_IDS = ['0', '-1', '1.5', '2147483648', '99999999999999999999', '999999', 'abc', '%00', '%F0%9F%94%A5', '1e3', '0x10', ' 1', '']

type Who = 'anonymous' | 'customer' | 'technician' | 'moderator' | 'admin'

/** A route, the kind of id in its path, who would call it, and the fields it reads ('?' before an optional one). */
interface Route { method: InjectOptions['method'], path: string, id?: Kind, who?: Who, fields?: string[] }

/** The JSON API of CONTRACT.md and the rest of /api/v1. */
const API_ROUTES: readonly Route[] = [
  { method: 'GET', path: '/api/v1/threads' },
  { method: 'POST', path: '/api/v1/threads', who: 'technician', fields: ['title', 'body', '?status'] },
  { method: 'GET', path: '/api/v1/threads/:id', id: 'thread' },
  { method: 'PATCH', path: '/api/v1/threads/:id', id: 'thread', who: 'moderator', fields: ['?status', '?locked', '?slowModeSeconds', '?cadenceMinutes', '?title', '?crisisMode', '?crisisReadOnly'] },
  { method: 'GET', path: '/api/v1/threads/:id/posts', id: 'thread' },
  { method: 'POST', path: '/api/v1/threads/:id/posts', id: 'thread', who: 'customer', fields: ['body', '?kind', '?replyTo', '?status', '?nextUpdateAt'] },
  { method: 'POST', path: '/api/v1/threads/:id/posts', id: 'thread', who: 'technician', fields: ['body', '?kind', '?replyTo', '?status', '?nextUpdateAt'] },
  { method: 'PUT', path: '/api/v1/threads/:id/pin', id: 'thread', who: 'moderator', fields: ['postId'] },
  { method: 'DELETE', path: '/api/v1/threads/:id/pin', id: 'thread', who: 'moderator' },
  { method: 'GET', path: '/api/v1/threads/:id/pins', id: 'thread' },
  { method: 'POST', path: '/api/v1/threads/:id/summary', id: 'thread', who: 'moderator', fields: ['body'] },
  { method: 'POST', path: '/api/v1/threads/:id/handover', id: 'thread', who: 'technician', fields: ['done', 'pending', 'next', '?nextUpdateAt'] },
  { method: 'GET', path: '/api/v1/threads/:id/live', id: 'thread', fields: ['?since', '?lang'] },
  { method: 'GET', path: '/api/v1/posts/:id', id: 'post' },
  { method: 'PATCH', path: '/api/v1/posts/:id', id: 'post', who: 'moderator', fields: ['body'] },
  { method: 'POST', path: '/api/v1/posts/:id/hide', id: 'post', who: 'moderator', fields: ['reason'] },
  { method: 'POST', path: '/api/v1/posts/:id/restore', id: 'post', who: 'moderator' },
  { method: 'GET', path: '/api/v1/posts/:id/revisions', id: 'post', who: 'moderator' },
  { method: 'POST', path: '/api/v1/posts/:id/flags', id: 'post', who: 'customer', fields: ['reason'] },
  { method: 'POST', path: '/api/v1/posts/:id/flags/hide', id: 'post', who: 'moderator' },
  { method: 'POST', path: '/api/v1/posts/:id/flags/dismiss', id: 'post', who: 'moderator' },
  { method: 'PUT', path: '/api/v1/posts/:id/answer', id: 'post', who: 'moderator', fields: ['updateId'] },
  { method: 'DELETE', path: '/api/v1/posts/:id/answer', id: 'post', who: 'moderator' },
  { method: 'POST', path: '/api/v1/preview', who: 'customer', fields: ['body'] },
  { method: 'GET', path: '/api/v1/flags', who: 'moderator' },
  { method: 'GET', path: '/api/v1/audit', who: 'moderator', fields: ['?threadId', '?actorId', '?before'] },
  { method: 'GET', path: '/api/v1/shifts' },
  { method: 'PUT', path: '/api/v1/shifts', who: 'admin', fields: ['day', 'evening', 'night'] },
  { method: 'GET', path: '/api/v1/duty' },
  { method: 'POST', path: '/api/v1/duty/check-in', who: 'technician', fields: ['?lead'] },
  { method: 'POST', path: '/api/v1/duty/check-out', who: 'technician' },
  { method: 'GET', path: '/api/v1/users', who: 'admin' },
  { method: 'PATCH', path: '/api/v1/users/:id', id: 'user', who: 'admin', fields: ['?role', '?shift'] },
  { method: 'GET', path: '/api/v1/admin/tokens', who: 'admin' },
  { method: 'POST', path: '/api/v1/admin/tokens', who: 'admin', fields: ['userId'] },
  { method: 'DELETE', path: '/api/v1/admin/tokens/:id', id: 'token', who: 'admin' },
  { method: 'POST', path: '/api/v1/tokens', fields: ['email', 'password'] },
  { method: 'GET', path: '/api/v1/me', who: 'customer' },
  { method: 'GET', path: '/api/v1/csrf' },
  { method: 'GET', path: '/api/v1/:id', id: 'thread' },
  { method: 'OPTIONS', path: '/api/v1/threads' }
]

/** The forms of the HTML pages, and the pages themselves. Signing out is left out: it would end the session the run uses. */
const FORM_ROUTES: readonly Route[] = [
  { method: 'POST', path: '/login', fields: ['email', 'password', '?next'] },
  { method: 'POST', path: '/register', fields: ['email', 'name', 'password', '?next'] },
  { method: 'POST', path: '/new', who: 'technician', fields: ['title', 'body', '?status', '?idempotencyKey'] },
  { method: 'POST', path: '/t/:id/posts', id: 'thread', who: 'customer', fields: ['body', '?kind', '?replyTo', '?status', '?next', '?idempotencyKey'] },
  { method: 'POST', path: '/t/:id/posts', id: 'thread', who: 'technician', fields: ['body', '?kind', '?replyTo', '?status', '?next', '?idempotencyKey'] },
  { method: 'POST', path: '/t/:id/pin', id: 'thread', who: 'moderator', fields: ['postId'] },
  { method: 'POST', path: '/t/:id/unpin', id: 'thread', who: 'moderator' },
  { method: 'POST', path: '/t/:id/settings', id: 'thread', who: 'moderator', fields: ['?locked', '?slowModeSeconds'] },
  { method: 'POST', path: '/t/:id/summary', id: 'thread', who: 'moderator', fields: ['body'] },
  { method: 'POST', path: '/t/:id/crisis', id: 'thread', who: 'moderator', fields: ['?crisisMode', '?crisisReadOnly'] },
  { method: 'POST', path: '/t/:id/handover', id: 'thread', who: 'technician', fields: ['done', 'pending', 'nextSteps', '?next', '?idempotencyKey'] },
  { method: 'POST', path: '/t/:id/cadence', id: 'thread', who: 'technician', fields: ['cadenceMinutes'] },
  { method: 'POST', path: '/posts/:id/flag', id: 'post', who: 'customer', fields: ['reason'] },
  { method: 'POST', path: '/posts/:id/answer', id: 'post', who: 'moderator', fields: ['updateId'] },
  { method: 'POST', path: '/posts/:id/edit', id: 'post', who: 'moderator', fields: ['body'] },
  { method: 'POST', path: '/posts/:id/hide', id: 'post', who: 'moderator', fields: ['reason'] },
  { method: 'POST', path: '/posts/:id/restore', id: 'post', who: 'moderator' },
  { method: 'POST', path: '/mod/flags/:id/hide', id: 'post', who: 'moderator' },
  { method: 'POST', path: '/mod/flags/:id/dismiss', id: 'post', who: 'moderator' },
  { method: 'POST', path: '/admin/users/:id', id: 'user', who: 'admin', fields: ['?role', '?shift'] },
  { method: 'POST', path: '/admin/tokens', who: 'admin', fields: ['userId'] },
  { method: 'POST', path: '/admin/tokens/:id/revoke', id: 'token', who: 'admin' },
  { method: 'POST', path: '/admin/shifts', who: 'admin', fields: ['day', 'evening', 'night'] },
  { method: 'POST', path: '/duty/check-in', who: 'technician', fields: ['?lead', '?next'] },
  { method: 'POST', path: '/duty/check-out', who: 'technician', fields: ['?next'] },
  { method: 'GET', path: '/', fields: ['?lang'] },
  { method: 'GET', path: '/t/:id', id: 'thread', fields: ['?view', '?after', '?replyTo', '?lang'] },
  { method: 'GET', path: '/t/:id/some-slug', id: 'thread', fields: ['?view', '?after', '?replyTo'] },
  { method: 'GET', path: '/t/:id/timeline', id: 'thread' },
  { method: 'GET', path: '/t/:id/handover', id: 'thread', who: 'technician' },
  { method: 'GET', path: '/t/:id/feed.atom', id: 'thread', fields: ['?lang'] },
  { method: 'GET', path: '/posts/:id/edit', id: 'post', who: 'moderator' },
  { method: 'GET', path: '/posts/:id/history', id: 'post', who: 'moderator' },
  { method: 'GET', path: '/mod/flags', who: 'moderator' },
  { method: 'GET', path: '/mod/audit', who: 'moderator', fields: ['?threadId', '?actorId'] },
  { method: 'GET', path: '/admin/users', who: 'admin' },
  { method: 'GET', path: '/admin/tokens', who: 'admin' },
  { method: 'GET', path: '/admin/shifts', who: 'admin', fields: ['?saved'] },
  { method: 'GET', path: '/new', who: 'technician' },
  { method: 'GET', path: '/login', fields: ['?next'] },
  { method: 'GET', path: '/register', fields: ['?next'] },
  { method: 'GET', path: '/feed.atom' }
]

// Every field name any route reads, and a few that could upset a parser.
const fieldName = (field: string) => field.replace(/^\?/, '')
const FIELDS = [...new Set([...API_ROUTES, ...FORM_ROUTES].flatMap((route) => (route.fields ?? []).map(fieldName))), 'limit', '_csrf', '__proto__', 'constructor']

// Characters that trouble storage, encodings and markup: U+0000 (which
// PostgreSQL refuses), other controls, non-characters, a byte order mark,
// bidirectional overrides, line separators, a lone surrogate, markup and escapes.
const TROUBLE = ['\u0000', '\u0001', '\u001b', '\u007f', '\u0085', '\uFFFE', '\uFFFF', '\uFEFF', '\u202E', '\u2028', '\u200B', '\uD800', '\r\n', '\t', '<', '>', '"', "'", '&', '%00', '\\', '`', '🔥', 'é', 'ﷺ']
const hostileText = fc.array(fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...TROUBLE) }, fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 24 })
  .map((parts) => parts.join(''))

const text = fc.oneof(
  { weight: 3, arbitrary: hostileText },
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.constantFrom(...NAUGHTY_STRINGS),
  fc.constantFrom(...XSS_PAYLOADS),
  fc.constantFrom('investigating', 'resolved', 'update', 'handover', 'comment', 'spam', 'admin', 'technician', 'day', 'on', 'none', '15', 'en', 'fr', 'official'),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(...REAL_IDS.post, ...REAL_IDS.thread)
)
const scalar = fc.oneof({ weight: 4, arbitrary: text }, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.constantFrom(0, -1, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 1e308, 1e-308))
const value = fc.oneof({ weight: 6, arbitrary: scalar }, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }))
const anyFields = fc.dictionary(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FIELDS) }, fc.string({ maxLength: 10 })), value, { maxKeys: 6 })

const someOf = (...values: unknown[]) => fc.constantFrom(...values)
const soon = fc.integer({ min: 1, max: 7 * 24 * 60 }).map((minutes) => new Date(Date.now() + minutes * 60_000).toISOString())
/** What each field usually holds, so most requests pass the schema and reach the rules with hostile text. */
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  status: someOf('investigating', 'identified', 'monitoring', 'resolved'),
  kind: someOf('update', 'handover', 'comment'),
  replyTo: someOf(...REAL_IDS.post.map(Number), null),
  nextUpdateAt: fc.oneof(soon, fc.constant(null)),
  postId: someOf(...REAL_IDS.post.map(Number)),
  updateId: someOf(...REAL_IDS.post.map(Number)),
  userId: someOf(victim.actor.id),
  locked: fc.boolean(),
  crisisMode: someOf(true, false, 'on'),
  crisisReadOnly: someOf(true, false, 'on'),
  lead: someOf(true, false, 'on'),
  slowModeSeconds: fc.integer({ min: 0, max: 3600 }),
  cadenceMinutes: fc.oneof(fc.integer({ min: 1, max: 1440 }), fc.constant(null)),
  day: fc.integer({ min: 0, max: 23 }),
  evening: fc.integer({ min: 0, max: 23 }),
  night: fc.integer({ min: 0, max: 23 }),
  role: someOf('customer', 'technician', 'moderator', 'admin'),
  shift: someOf('day', 'evening', 'night', null),
  reason: fc.oneof(someOf('spam', 'rumour', 'abusive'), hostileText),
  next: fc.oneof(someOf('15', '30', '60', 'none', '/t/1'), hostileText),
  view: someOf('official', 'all'),
  lang: someOf('en', 'fr'),
  after: someOf(...REAL_IDS.post),
  since: someOf('0', '1', '2'),
  threadId: someOf(...REAL_IDS.thread),
  actorId: someOf('1', '2'),
  before: someOf('1', '100'),
  saved: someOf('1')
}
const plausible = (name: string) => fc.oneof({ weight: 6, arbitrary: PLAUSIBLE[name] ?? hostileText }, { weight: 2, arbitrary: text }, value)

/** Mostly the route's own fields, the required ones nearly always there, so requests get past the schemas to the rules. */
const fieldsFor = (route: Route): fc.Arbitrary<Record<string, unknown>> => route.fields === undefined
  ? anyFields
  : fc.oneof(
    { weight: 6, arbitrary: fc.tuple(...route.fields.map((field) => fc.option(plausible(fieldName(field)).map((v) => [fieldName(field), v] as const), { freq: field.startsWith('?') ? 2 : 12, nil: undefined })))
      .map((entries) => Object.fromEntries(entries.filter((entry) => entry !== undefined))) },
    anyFields)

/** How the body is sent: the form it takes on the wire. */
type Body =
  | { as: 'json', value: unknown }
  | { as: 'form', value: Record<string, unknown> }
  | { as: 'raw', value: string | Buffer }
  | { as: 'none' }
const bodyFor = (route: Route): fc.Arbitrary<Body> => fc.oneof(
  { weight: 8, arbitrary: fieldsFor(route).map((value): Body => ({ as: 'json', value })) },
  { weight: 4, arbitrary: fieldsFor(route).map((value): Body => ({ as: 'form', value })) },
  fc.jsonValue().map((value): Body => ({ as: 'json', value })),
  fc.oneof(text, fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes))).map((value): Body => ({ as: 'raw', value })),
  fc.constant<Body>({ as: 'none' })
)

// What Node's HTTP parser lets through in a header: tabs, visible ASCII and Latin-1.
const headerValue = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)), maxLength: 80 })
const contentType = fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, fc.oneof(
  fc.constantFrom(
    'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json;;;',
    'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'text/plain', 'text/html',
    'multipart/form-data', 'multipart/form-data; boundary=--x', 'application/octet-stream', 'application/xml', 'application/*',
    '*/*', '', ';', 'application/json, text/plain', 'APPLICATION/JSON', 'application/merge-patch+json', 'application/vnd.api+json'
  ),
  headerValue
))
const HEADER_NAMES = [
  'accept', 'accept-language', 'accept-encoding', 'origin', 'referer', 'idempotency-key', 'if-none-match', 'if-modified-since',
  'x-forwarded-for', 'x-csrf-token', 'range', 'user-agent', 'content-encoding', 'expect', 'cookie', 'authorization',
  'connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'x-http-method-override'
]
const headers = fc.dictionary(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HEADER_NAMES) }, fc.stringMatching(/^x-[a-z0-9-]{1,12}$/)), headerValue, { maxKeys: 3 })

const queryFor = (route: Route) => fc.oneof(
  fieldsFor(route).map((fields) => Object.entries(fields)),
  fc.array(fc.tuple(fc.string({ maxLength: 6 }), text), { maxLength: 3 })
).map((pairs) => {
  const encoded = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(typeof v === 'string' ? v : JSON.stringify(v)).replace(/[\uD800-\uDFFF]/g, ''))}`)
  return encoded.length === 0 ? '' : `?${encoded.join('&')}`
})

const idFor = (kind: Kind | undefined) => kind === undefined
  ? fc.constant('')
  : fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...REAL_IDS[kind]) }, fc.constantFrom(...BAD_IDS), fc.string({ maxLength: 8 }).map(encodeURIComponent))

const WHO: readonly Who[] = ['anonymous', 'customer', 'technician', 'moderator', 'admin']
/** Mostly whoever the route is for, so the request gets past the permission checks. */
const whoFor = (route: Route) => fc.oneof({ weight: 3, arbitrary: fc.constant(route.who ?? 'anonymous') }, fc.constantFrom(...WHO))

interface Sent { route: Route, id: string, query: string, body: Body, contentType: string | undefined, headers: Record<string, string>, who: Who }

const request = (routes: readonly Route[]): fc.Arbitrary<Sent> => fc.constantFrom(...routes).chain((route) => fc.record({
  route: fc.constant(route),
  id: idFor(route.id),
  // A GET reads its fields from the query string.
  query: route.method === 'GET' ? queryFor(route) : fc.oneof({ weight: 3, arbitrary: fc.constant('') }, queryFor(route)),
  body: route.method === 'GET' ? fc.oneof({ weight: 5, arbitrary: fc.constant<Body>({ as: 'none' }) }, bodyFor(route)) : bodyFor(route),
  contentType,
  headers,
  who: whoFor(route)
}))

function serialise (sent: Body): string | Buffer | undefined {
  switch (sent.as) {
    case 'json': return JSON.stringify(sent.value) ?? 'null'
    case 'form': return new URLSearchParams(Object.entries(sent.value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])).toString()
    case 'raw': return sent.value
    case 'none': return undefined
  }
}

const defaultType = (sent: Body): string | undefined =>
  sent.as === 'json' ? 'application/json' : sent.as === 'form' ? 'application/x-www-form-urlencoded' : sent.as === 'raw' ? 'text/plain' : undefined

async function send (sent: Sent, identity: Record<string, string>, cookies: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const payload = serialise(sent.body)
  const type = sent.contentType ?? defaultType(sent.body)
  return await app.inject({
    method: sent.route.method,
    url: sent.route.path.replace(':id', sent.id) + sent.query,
    headers: { ...sent.headers, ...identity, ...(type !== undefined && payload !== undefined && { 'content-type': type }) },
    cookies,
    ...(payload !== undefined && { payload })
  })
}

/** What is wrong with an answer, or null: never a 5xx, API errors in their documented shape, no stack traces. */
function complaint (res: LightMyRequestResponse, sent: Sent): string | null {
  const what = `${sent.route.method} ${sent.route.path.replace(':id', sent.id)}${sent.query} as ${sent.who}`
  if (res.statusCode >= 500) return `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`
  if (sent.route.path.startsWith('/api/') && res.statusCode >= 400 && sent.route.method !== 'HEAD') {
    let code: unknown
    try {
      code = (res.json() as { error?: { code?: unknown } }).error?.code
    } catch {
      return `${what}: ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`
    }
    if (typeof code !== 'string') return `${what}: ${res.statusCode} without {"error":{"code"}}: ${res.body.slice(0, 200)}`
  }
  if (/node_modules|\bat .+\.ts:\d+:\d+/.test(res.body)) return `${what}: ${res.statusCode} shows the server's insides: ${res.body.slice(0, 300)}`
  return null
}

const TOKENS: Record<Who, Record<string, string>> = {
  anonymous: {},
  customer: customer.auth,
  technician: tech.auth,
  moderator: moderator.auth,
  admin: admin.auth
}

t.test('random API requests (bodies, content types, headers, ids, queries) never get a 5xx', async (t) => {
  const numRuns = 800
  const details = await fc.check(fc.asyncProperty(request(API_ROUTES), fc.boolean(), async (sent, badToken) => {
    // Now and then a token that matches nobody.
    const identity = badToken && sent.who === 'anonymous' ? { authorization: 'Bearer not-a-token' } : TOKENS[sent.who]
    const problem = complaint(await send(sent, identity), sent)
    if (problem !== null) throw new Error(problem)
  }), { numRuns, includeErrorInReport: true })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? `${numRuns} requests, none answered 5xx`)
  t.equal(details.numRuns, numRuns, 'every request was sent')
})

t.test('random form posts and page queries, signed in with a valid CSRF token, never get a 5xx', async (t) => {
  const sessions = new Map<Who, { cookies: Record<string, string>, csrf: string }>([['anonymous', { cookies: {}, csrf: '' }]])
  for (const [who, user] of [['customer', customer], ['technician', tech], ['moderator', moderator], ['admin', admin]] as const) {
    const cookies = await signIn(app, user)
    const page = await app.inject({ url: '/', cookies })
    sessions.set(who, { cookies, csrf: csrfFieldOf(page.body) })
  }
  const numRuns = 600
  const details = await fc.check(fc.asyncProperty(request(FORM_ROUTES), fc.boolean(), async (sent, withToken) => {
    const session = sessions.get(sent.who)!
    // Mostly with the page's token, so the request reaches the form's handler.
    const fields = sent.body.as === 'form' || sent.body.as === 'json' ? sent.body.value : undefined
    const signed: Sent = withToken && session.csrf !== '' && typeof fields === 'object' && fields !== null && !Array.isArray(fields)
      ? { ...sent, body: { ...sent.body, value: { ...fields, _csrf: session.csrf } } as Body }
      : sent
    const problem = complaint(await send(signed, {}, session.cookies), sent)
    if (problem !== null) throw new Error(problem)
  }), { numRuns, includeErrorInReport: true })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? `${numRuns} forms, none answered 5xx`)
  t.equal(details.numRuns, numRuns, 'every form was sent')
})

t.test('the application still works after the fuzzing', async (t) => {
  const fresh = await createApiToken(app.db, tech.actor.id)
  const res = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { authorization: `Bearer ${fresh}` }, payload: { body: 'Still here.' } })
  t.equal(res.statusCode, 201, 'a technician can still post')
  t.equal((await app.inject({ url: '/' })).statusCode, 200, 'the incident list still shows')
})
