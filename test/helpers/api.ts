import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import type { TestUser } from './app.ts'

type Headers = Record<string, string>

/** The headers a user sends: its Bearer token, or nothing for an anonymous reader. */
export const headersOf = (user: TestUser | null): Headers => user === null ? {} : { ...user.auth }

/** Checks the status; the body shows only when it is not the expected one. */
export function assertStatus (t: Test, res: LightMyRequestResponse, statusCode: number, message = `answers ${statusCode}`): void {
  t.equal(res.statusCode, statusCode, message, { body: res.body.slice(0, 500) })
}

/**
 * Checks an error answer against the contract: the status, a JSON body of
 * exactly `{"error":{"code","message"}}`, and nothing of the server's insides.
 */
export function assertError (t: Test, res: LightMyRequestResponse, statusCode: number, code?: string): void {
  assertStatus(t, res, statusCode)
  t.match(String(res.headers['content-type']), /^application\/json/, 'the error is JSON')
  let body: unknown
  try {
    body = res.json()
  } catch {
    t.fail(`the error body is not JSON: ${res.body.slice(0, 300)}`)
    return
  }
  t.same(Object.keys(body as object), ['error'], 'the body holds the error alone')
  const error = (body as { error?: Record<string, unknown> }).error ?? {}
  t.same(Object.keys(error).sort(), ['code', 'message'], 'the error has a code and a message, nothing more')
  t.type(error.code, 'string')
  t.type(error.message, 'string')
  t.ok(String(error.message).length > 0, 'the message says something')
  if (code !== undefined) t.equal(error.code, code, `the code is ${code}`)
  t.notMatch(res.body, /\bat .+:\d+:\d+|node_modules|\.ts:\d+/, 'no stack trace')
}

/** Throws, with the answer, unless it has the expected status: for set-up steps. */
function expect (res: LightMyRequestResponse, statusCode: number, what: string): LightMyRequestResponse {
  if (res.statusCode !== statusCode) throw new Error(`${what}: expected ${statusCode}, got ${res.statusCode} ${res.body}`)
  return res
}

export async function openThread (app: FastifyInstance, user: TestUser, fields: { title?: string, body?: string, status?: string } = {}): Promise<Thread> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/threads',
    headers: user.auth,
    payload: { title: fields.title ?? 'Power loss in DC1', body: fields.body ?? 'We are looking into it.', ...(fields.status !== undefined && { status: fields.status }) }
  })
  return expect(res, 201, 'opening a thread').json()
}

export async function writePost (app: FastifyInstance, user: TestUser, threadId: number, payload: Record<string, unknown>): Promise<Post> {
  const res = await app.inject({ method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: user.auth, payload })
  return expect(res, 201, 'writing a post').json()
}

export async function readThread (app: FastifyInstance, threadId: number): Promise<Thread> {
  return expect(await app.inject({ url: `/api/v1/threads/${threadId}` }), 200, 'reading a thread').json()
}

export async function readPosts (app: FastifyInstance, threadId: number, viewer: TestUser | null = null, query = ''): Promise<Post[]> {
  const res = await app.inject({ url: `/api/v1/threads/${threadId}/posts${query}`, headers: headersOf(viewer) })
  return expect(res, 200, 'reading posts').json().posts
}

/** A change that has to answer 200, for set-up steps. */
export async function act (app: FastifyInstance, user: TestUser, method: 'POST' | 'PUT' | 'DELETE' | 'PATCH', url: string, payload?: Record<string, unknown>): Promise<LightMyRequestResponse> {
  const res = await app.inject({ method, url, headers: user.auth, ...(payload !== undefined && { payload }) })
  return expect(res, 200, `${method} ${url}`)
}

/** The thread's event log as stored, in seq order. */
export async function eventLog (app: FastifyInstance, threadId: number, after = 0): Promise<{ seq: number, type: string, payload: Record<string, any> }[]> {
  const rows = await app.db.selectFrom('thread_events').select(['seq', 'type', 'payload'])
    .where('thread_id', '=', threadId).where('seq', '>', after).orderBy('seq').execute()
  return rows.map((row) => ({ seq: row.seq, type: row.type, payload: row.payload as Record<string, any> }))
}

/** An ISO time `ms` from now on the given clock. */
export const inFuture = (ms: number, now = Date.now()): string => new Date(now + ms).toISOString()

const ACTIVE_ELEMENTS = new Set(['script', 'svg', 'img', 'iframe', 'frame', 'frameset', 'object', 'embed', 'style', 'link', 'meta', 'base', 'form', 'input', 'button', 'textarea', 'select', 'math', 'video', 'audio', 'source', 'template'])
const URL_ATTRIBUTES = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'srcset', 'poster', 'background'])
const NAMED_ENTITIES: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', colon: ':', tab: '\t', newline: '\n', nbsp: ' ' }

function decodeEntities (text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);?/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1]?.toLowerCase() === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10)
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole
  })
}

/**
 * The ways a piece of HTML could run script or restyle the page: what no
 * rendered post may contain. It reads the tags and their attributes as a
 * browser would, so escaped text that merely mentions them does not count.
 */
export function dangersIn (html: string): string[] {
  const found: string[] = []
  for (const [tag] of html.matchAll(/<[^>]*>?/g)) {
    const name = /^<\/?\s*([^\s/>]+)/.exec(tag)?.[1]?.toLowerCase() ?? ''
    if (ACTIVE_ELEMENTS.has(name) || name.startsWith('!') || name.startsWith('?')) found.push(`<${name}>`)
    const attributes = tag.slice(1 + name.length).matchAll(/([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)
    for (const [, rawName, ...values] of attributes) {
      const attribute = rawName!.toLowerCase()
      const value = decodeEntities(values.find((v) => v !== undefined) ?? '')
      if (attribute.startsWith('on')) found.push(`${attribute}= on <${name}>`)
      if (attribute === 'style' && name !== 'th' && name !== 'td') found.push(`style= on <${name}>`)
      // Browsers drop control characters and spaces inside a scheme.
      const scheme = value.replace(/[\u0000-\u0020\u007f-\u009f]/g, '')
      if (URL_ATTRIBUTES.has(attribute) && /^(javascript|data|vbscript):/i.test(scheme)) found.push(`${attribute}="${value}" on <${name}>`)
    }
  }
  return found
}
