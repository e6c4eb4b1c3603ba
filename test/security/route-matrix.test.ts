import type { FastifyInstance, HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Role } from '../../src/db/database.ts'
import { createApiToken } from '../../src/domain/tokens.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { PASSWORD, type TestUser, buildTestApp, cookieFrom, csrfFieldOf, makeUser, makeUserOfEachRole } from '../helpers/app.ts'
import { act, openThread, writePost } from '../helpers/api.ts'
import { startMailbox } from '../helpers/smtp.ts'

/**
 * Every route of the app, for every kind of caller, with the status each gets.
 * The routes come from the app's own router: a route added without a row
 * here, or a row whose route is gone, fails the test by name.
 *
 * Pages are called as a browser would, with the session cookie and the CSRF
 * token of its pages, forms sent url-encoded; the JSON API with the role's
 * Bearer token. Each route gets a scene of its own (a new thread, its first
 * update and a comment) for the calls that change nothing (reads, refusals);
 * each call expected to change something gets a fresh one.
 */

type Who = 'anonymous' | Role
const EVERYONE: readonly Who[] = ['anonymous', 'customer', 'technician', 'moderator', 'admin']
const SIGNED_IN: readonly Who[] = ['customer', 'technician', 'moderator', 'admin']
const STAFF: readonly Who[] = ['technician', 'moderator', 'admin']
const MODERATORS: readonly Who[] = ['moderator', 'admin']
const ADMINS: readonly Who[] = ['admin']

/** A status, or 'login': a 303 to the sign-in page. A plain 303 is a redirect anywhere else (the form worked). */
type Outcome = number | 'login'
type Expected = Record<Who, Outcome>

/** `allowed` get `ok`; an anonymous caller gets `anonymous`; every other role 403. */
function only (allowed: readonly Who[], ok: Outcome, anonymous: Outcome): Expected {
  return Object.fromEntries(EVERYONE.map((who) => [who, allowed.includes(who) ? ok : who === 'anonymous' ? anonymous : 403])) as Expected
}
const anyone = (ok: Outcome): Expected => only(EVERYONE, ok, ok)
/** JSON API: 401 for anonymous callers. */
const api = (allowed: readonly Who[], ok: number) => only(allowed, ok, 401)
/** A page to look at: anonymous readers are sent to sign in. */
const page = (allowed: readonly Who[]) => only(allowed, 200, 'login')
/** A form: its answer is a 303 to the result; anonymous senders get 401. */
const form = (allowed: readonly Who[]) => only(allowed, 303, 401)

interface Scene {
  thread: Thread
  /** The thread's first post: an official update. */
  update: Post
  /** A customer's comment. */
  comment: Post
}

interface Call {
  url: string
  /** A JSON body for the API, or the fields of a form for a page. */
  body?: Record<string, string | number | boolean>
}

interface Row {
  expect: Expected
  /** What has to be true first, done by someone allowed to: once per scene. */
  prepare?: (scene: Scene) => Promise<unknown>
  call: (scene: Scene, account: TestUser) => Call | Promise<Call>
  /**
   * The call signs in, out or changes the caller's own password: it runs as
   * a new user of the role (`account`), in a browser of their own. An
   * anonymous caller gets a new account's credentials to use.
   */
  ownAccount?: boolean
  /** A WebSocket: the outcome is 101 when the socket opens. */
  socket?: boolean
  /** What HEAD answers, when not what GET does. */
  head?: Expected
}

// A mail server, so that following an incident by e-mail is offered.
const { app } = await buildTestApp(t, { env: { SMTP_URL: (await startMailbox(t)).url } })
const opener = await makeUser(app, 'technician')
const commenter = await makeUser(app, 'customer')
const flagger = await makeUser(app, 'customer')
const keeper = await makeUser(app, 'moderator')
const users: Record<Role, TestUser> = await makeUserOfEachRole(app, 'evening')

let fresh = 0
/** A user made for one call only. */
const newUser = (role: Role) => makeUser(app, role, { email: `fresh${++fresh}.${role}@example.org` })
/** A new address for each browser: the per-address limits of the sign-in forms never mix two of them. */
let addresses = 0
const newAddress = () => `10.${Math.floor(++addresses / 250)}.${addresses % 250}.1`

interface Browser { cookies: Record<string, string>, csrf: string, address: string }

/** A browser that opened the sign-in page, then (for a user) signed in with it, and read its CSRF token from a page. */
async function openBrowser (user: TestUser | null): Promise<Browser> {
  const address = newAddress()
  const cookies: Record<string, string> = {}
  const keep = (res: LightMyRequestResponse) => { for (const c of res.cookies) cookies[c.name] = c.value }
  const login = await app.inject({ url: '/login', remoteAddress: address })
  keep(login)
  if (user === null) return { cookies, csrf: csrfFieldOf(login.body), address }
  const res = await app.inject({
    method: 'POST', url: '/login', remoteAddress: address, cookies,
    payload: { _csrf: csrfFieldOf(login.body), email: user.actor.email, password: PASSWORD }
  })
  if (res.statusCode !== 303 || cookieFrom(res, SESSION_COOKIE) === undefined) throw new Error(`sign-in failed: ${res.statusCode}`)
  keep(res)
  const account = await app.inject({ url: '/account', remoteAddress: address, cookies })
  return { cookies, csrf: csrfFieldOf(account.body), address }
}

async function setScene (): Promise<Scene> {
  const thread = await openThread(app, opener)
  const update = (await app.inject({ url: `/api/v1/threads/${thread.id}/posts` })).json().posts[0] as Post
  const comment = await writePost(app, commenter, thread.id, { body: 'Is the mail server affected too?' })
  return { thread, update, comment }
}

/** A token of the commenter made for one call, and its id. */
async function spareTokenId (): Promise<number> {
  await createApiToken(app.db, commenter.actor.id)
  const row = await app.db.selectFrom('api_tokens').select('id').where('user_id', '=', commenter.actor.id).orderBy('id', 'desc').executeTakeFirstOrThrow()
  return row.id
}

const pin = (s: Scene) => act(app, keeper, 'PUT', `/api/v1/threads/${s.thread.id}/pin`, { postId: s.update.id })
const hide = (s: Scene) => act(app, keeper, 'POST', `/api/v1/posts/${s.comment.id}/hide`, { reason: 'Off topic' })
const linkAnswer = (s: Scene) => act(app, keeper, 'PUT', `/api/v1/posts/${s.comment.id}/answer`, { updateId: s.update.id })
async function flag (s: Scene): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/api/v1/posts/${s.comment.id}/flags`, headers: flagger.auth, payload: { reason: 'rumour' } })
  if (res.statusCode !== 201) throw new Error(`flagging answered ${res.statusCode}`)
}

const ROUTES: Record<string, Row> = {
  // Readers' pages and feeds
  'GET /': { expect: anyone(200), call: () => ({ url: '/' }) },
  'GET /t/:id': { expect: anyone(200), call: (s) => ({ url: `/t/${s.thread.id}` }) },
  'GET /t/:id/:slug': { expect: anyone(200), call: (s) => ({ url: `/t/${s.thread.id}/any-old-slug` }) },
  'GET /t/:id/timeline': { expect: anyone(200), call: (s) => ({ url: `/t/${s.thread.id}/timeline` }) },
  'GET /t/:id/feed.atom': { expect: anyone(200), call: (s) => ({ url: `/t/${s.thread.id}/feed.atom` }) },
  'GET /feed.atom': { expect: anyone(200), call: () => ({ url: '/feed.atom' }) },
  'GET /static/*': { expect: anyone(200), call: () => ({ url: '/static/site.css' }) },
  'GET /healthz': { expect: anyone(200), call: () => ({ url: '/healthz' }) },
  'GET /readyz': { expect: anyone(200), call: () => ({ url: '/readyz' }) },

  // Signing in and out, the account
  'GET /login': { expect: anyone(200), call: () => ({ url: '/login' }) },
  'POST /login': { expect: anyone(303), ownAccount: true, call: (_s, account) => ({ url: '/login', body: { email: account.actor.email, password: PASSWORD } }) },
  'GET /register': { expect: anyone(200), call: () => ({ url: '/register' }) },
  'POST /register': {
    expect: anyone(303),
    ownAccount: true,
    call: () => ({ url: '/register', body: { name: 'New Reader', email: `reader${++fresh}@example.org`, password: PASSWORD } })
  },
  'GET /password/forgot': { expect: anyone(200), call: () => ({ url: '/password/forgot' }) },
  'POST /password/forgot': { expect: anyone(303), call: () => ({ url: '/password/forgot', body: { email: 'nobody@example.org' } }) },
  // A link someone made up: refused to everyone alike.
  'GET /password/reset/:token': { expect: anyone(400), call: () => ({ url: `/password/reset/1.9999999999.${'a'.repeat(32)}` }) },
  'POST /password/reset/:token': { expect: anyone(400), call: () => ({ url: `/password/reset/1.9999999999.${'a'.repeat(32)}`, body: { password: 'a long enough password' } }) },
  'GET /logout': { expect: only(SIGNED_IN, 200, 303), call: () => ({ url: '/logout' }) },
  'POST /logout': { expect: anyone(303), ownAccount: true, call: () => ({ url: '/logout' }) },
  'GET /account': { expect: page(SIGNED_IN), call: () => ({ url: '/account' }) },
  'POST /account/name': { expect: form(SIGNED_IN), ownAccount: true, call: () => ({ url: '/account/name', body: { name: 'A Name Of My Own' } }) },
  'POST /account/password': {
    expect: form(SIGNED_IN),
    ownAccount: true,
    call: () => ({ url: '/account/password', body: { current: PASSWORD, password: 'another long passphrase', again: 'another long passphrase' } })
  },

  // Following an incident by e-mail; the links in e-mails work signed out
  'POST /t/:id/follow': { expect: form(SIGNED_IN), call: (s) => ({ url: `/t/${s.thread.id}/follow` }) },
  'POST /t/:id/follow/resend': { expect: form(SIGNED_IN), call: (s) => ({ url: `/t/${s.thread.id}/follow/resend` }) },
  'POST /t/:id/unfollow': { expect: form(SIGNED_IN), call: (s) => ({ url: `/t/${s.thread.id}/unfollow` }) },
  'POST /account/follows/:id/stop': { expect: form(SIGNED_IN), call: (s) => ({ url: `/account/follows/${s.thread.id}/stop` }) },
  'GET /unsubscribe/:token': { expect: anyone(200), call: (s) => ({ url: `/unsubscribe/${app.followLinks.stopToken(commenter.actor.id, s.thread.id)}` }) },
  'POST /unsubscribe/:token': { expect: anyone(200), call: (s) => ({ url: `/unsubscribe/${app.followLinks.stopToken(commenter.actor.id, s.thread.id)}` }) },
  'GET /confirm-email/:token': { expect: anyone(200), call: () => ({ url: `/confirm-email/${app.followLinks.confirmToken(commenter.actor.id, commenter.actor.email)}` }) },
  'POST /confirm-email/:token': { expect: anyone(200), call: () => ({ url: `/confirm-email/${app.followLinks.confirmToken(commenter.actor.id, commenter.actor.email)}` }) },

  // Incident pages for staff
  'GET /new': { expect: page(STAFF), call: () => ({ url: '/new' }) },
  'POST /new': { expect: form(STAFF), call: () => ({ url: '/new', body: { title: 'Lifts stopped in building C', body: 'Engineers on their way.' } }) },
  'POST /t/:id/posts': { expect: form(SIGNED_IN), call: (s) => ({ url: `/t/${s.thread.id}/posts`, body: { body: 'Any news?' } }) },
  'GET /t/:id/handover': { expect: page(STAFF), call: (s) => ({ url: `/t/${s.thread.id}/handover` }) },
  'POST /t/:id/handover': {
    expect: form(STAFF),
    call: (s) => ({ url: `/t/${s.thread.id}/handover`, body: { done: 'Replaced the fuse.', pending: 'Cooling check.', nextSteps: 'Watch the load.', next: '60' } })
  },
  'POST /t/:id/cadence': { expect: form(STAFF), call: (s) => ({ url: `/t/${s.thread.id}/cadence`, body: { cadenceMinutes: '30' } }) },
  'POST /duty/check-in': { expect: form(STAFF), call: () => ({ url: '/duty/check-in', body: { next: '/' } }) },
  'POST /duty/check-out': { expect: form(STAFF), call: () => ({ url: '/duty/check-out', body: { next: '/' } }) },

  // Post pages
  'GET /posts/:id': { expect: anyone(303), call: (s) => ({ url: `/posts/${s.comment.id}` }) },
  'GET /posts/:id/edit': { expect: page(MODERATORS), call: (s) => ({ url: `/posts/${s.comment.id}/edit` }) },
  'POST /posts/:id/edit': { expect: form(MODERATORS), call: (s) => ({ url: `/posts/${s.comment.id}/edit`, body: { body: 'Edited.' } }) },
  'POST /posts/:id/flag': { expect: form(SIGNED_IN), call: (s) => ({ url: `/posts/${s.comment.id}/flag`, body: { reason: 'spam' } }) },

  // Moderation pages
  'POST /t/:id/pin': { expect: form(MODERATORS), call: (s) => ({ url: `/t/${s.thread.id}/pin`, body: { postId: String(s.update.id) } }) },
  'POST /t/:id/unpin': { expect: form(MODERATORS), prepare: pin, call: (s) => ({ url: `/t/${s.thread.id}/unpin` }) },
  'POST /t/:id/settings': { expect: form(MODERATORS), call: (s) => ({ url: `/t/${s.thread.id}/settings`, body: { locked: 'on', slowModeSeconds: '30' } }) },
  'POST /t/:id/summary': { expect: form(MODERATORS), call: (s) => ({ url: `/t/${s.thread.id}/summary`, body: { body: 'Power is back; network next.' } }) },
  'POST /t/:id/crisis': { expect: form(MODERATORS), call: (s) => ({ url: `/t/${s.thread.id}/crisis`, body: { crisisMode: 'on' } }) },
  'POST /posts/:id/hide': { expect: form(MODERATORS), call: (s) => ({ url: `/posts/${s.comment.id}/hide`, body: { reason: 'Off topic' } }) },
  'POST /posts/:id/restore': { expect: form(MODERATORS), prepare: hide, call: (s) => ({ url: `/posts/${s.comment.id}/restore` }) },
  'POST /posts/:id/answer': { expect: form(MODERATORS), call: (s) => ({ url: `/posts/${s.comment.id}/answer`, body: { updateId: String(s.update.id) } }) },
  'GET /posts/:id/history': { expect: page(MODERATORS), call: (s) => ({ url: `/posts/${s.comment.id}/history` }) },
  'GET /mod/flags': { expect: page(MODERATORS), call: () => ({ url: '/mod/flags' }) },
  'POST /mod/flags/:id/hide': { expect: form(MODERATORS), prepare: flag, call: (s) => ({ url: `/mod/flags/${s.comment.id}/hide` }) },
  'POST /mod/flags/:id/dismiss': { expect: form(MODERATORS), prepare: flag, call: (s) => ({ url: `/mod/flags/${s.comment.id}/dismiss` }) },
  'GET /mod/audit': { expect: page(MODERATORS), call: () => ({ url: '/mod/audit' }) },

  // Admin pages
  'GET /admin/users': { expect: page(ADMINS), call: () => ({ url: '/admin/users' }) },
  'POST /admin/users/:id': {
    expect: form(ADMINS),
    call: async () => ({ url: `/admin/users/${(await newUser('customer')).actor.id}`, body: { role: 'moderator', shift: '' } })
  },
  // The link to choose a password is shown on the answer itself, once: a 200, not a redirect.
  'POST /admin/users': { expect: only(ADMINS, 200, 401), call: () => ({ url: '/admin/users', body: { name: 'Newly Added', email: `added${++fresh}@example.org`, role: 'customer', shift: '' } }) },
  'POST /admin/users/:id/password-link': {
    expect: only(ADMINS, 200, 401),
    call: async () => ({ url: `/admin/users/${(await newUser('customer')).actor.id}/password-link` })
  },
  'GET /admin/tokens': { expect: page(ADMINS), call: () => ({ url: '/admin/tokens' }) },
  // The new token is shown on the answer itself, once: a 200, not a redirect.
  'POST /admin/tokens': { expect: only(ADMINS, 200, 401), call: () => ({ url: '/admin/tokens', body: { userId: String(commenter.actor.id) } }) },
  'POST /admin/tokens/:id/revoke': { expect: form(ADMINS), call: async () => ({ url: `/admin/tokens/${await spareTokenId()}/revoke` }) },
  'GET /admin/shifts': { expect: page(ADMINS), call: () => ({ url: '/admin/shifts' }) },
  'POST /admin/shifts': { expect: form(ADMINS), call: () => ({ url: '/admin/shifts', body: { day: '7', evening: '15', night: '23' } }) },

  // JSON API: reading
  'GET /api/v1/csrf': { expect: anyone(200), call: () => ({ url: '/api/v1/csrf' }) },
  'GET /api/v1/me': { expect: api(SIGNED_IN, 200), call: () => ({ url: '/api/v1/me' }) },
  'GET /api/v1/me/follows': { expect: api(SIGNED_IN, 200), call: () => ({ url: '/api/v1/me/follows' }) },
  'GET /api/v1/threads/:id/follow': { expect: api(SIGNED_IN, 200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/follow` }) },
  'PUT /api/v1/threads/:id/follow': { expect: api(SIGNED_IN, 200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/follow` }) },
  'DELETE /api/v1/threads/:id/follow': { expect: api(SIGNED_IN, 200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/follow` }) },
  'GET /api/v1/threads': { expect: anyone(200), call: () => ({ url: '/api/v1/threads' }) },
  'GET /api/v1/threads/:id': { expect: anyone(200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}` }) },
  'GET /api/v1/threads/:id/posts': { expect: anyone(200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/posts` }) },
  'GET /api/v1/threads/:id/pins': { expect: anyone(200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/pins` }) },
  // Any request there without an upgrade, HEAD included, is told to open a WebSocket.
  'GET /api/v1/threads/:id/live': { expect: anyone(101), socket: true, head: anyone(426), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/live` }) },
  'GET /api/v1/posts/:id': { expect: anyone(200), call: (s) => ({ url: `/api/v1/posts/${s.comment.id}` }) },
  'GET /api/v1/posts/:id/revisions': { expect: api(MODERATORS, 200), call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/revisions` }) },
  'GET /api/v1/shifts': { expect: anyone(200), call: () => ({ url: '/api/v1/shifts' }) },
  'GET /api/v1/duty': { expect: anyone(200), call: () => ({ url: '/api/v1/duty' }) },
  'GET /api/v1/flags': { expect: api(MODERATORS, 200), call: () => ({ url: '/api/v1/flags' }) },
  'GET /api/v1/audit': { expect: api(MODERATORS, 200), call: () => ({ url: '/api/v1/audit' }) },
  'GET /api/v1/users': { expect: api(ADMINS, 200), call: () => ({ url: '/api/v1/users' }) },
  'GET /api/v1/admin/tokens': { expect: api(ADMINS, 200), call: () => ({ url: '/api/v1/admin/tokens' }) },

  // JSON API: changing
  'POST /api/v1/tokens': { expect: anyone(201), ownAccount: true, call: (_s, account) => ({ url: '/api/v1/tokens', body: { email: account.actor.email, password: PASSWORD } }) },
  'POST /api/v1/preview': { expect: api(SIGNED_IN, 200), call: () => ({ url: '/api/v1/preview', body: { body: '**Bold** move' } }) },
  'POST /api/v1/threads': { expect: api(STAFF, 201), call: () => ({ url: '/api/v1/threads', body: { title: 'Heating off in hall B', body: 'Boiler tripped.' } }) },
  'PATCH /api/v1/threads/:id': { expect: api(STAFF, 200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}`, body: { status: 'identified' } }) },
  'POST /api/v1/threads/:id/posts': { expect: api(SIGNED_IN, 201), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/posts`, body: { body: 'Still down here.' } }) },
  'PUT /api/v1/threads/:id/pin': { expect: api(MODERATORS, 200), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/pin`, body: { postId: s.update.id } }) },
  'DELETE /api/v1/threads/:id/pin': { expect: api(MODERATORS, 200), prepare: pin, call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/pin` }) },
  'POST /api/v1/threads/:id/handover': { expect: api(STAFF, 201), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/handover`, body: { done: 'Fuse replaced.' } }) },
  'POST /api/v1/threads/:id/summary': { expect: api(MODERATORS, 201), call: (s) => ({ url: `/api/v1/threads/${s.thread.id}/summary`, body: { body: 'Summary so far.' } }) },
  'PATCH /api/v1/posts/:id': { expect: api(MODERATORS, 200), call: (s) => ({ url: `/api/v1/posts/${s.comment.id}`, body: { body: 'Edited by someone else.' } }) },
  'POST /api/v1/posts/:id/hide': { expect: api(MODERATORS, 200), call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/hide`, body: { reason: 'Off topic' } }) },
  'POST /api/v1/posts/:id/restore': { expect: api(MODERATORS, 200), prepare: hide, call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/restore` }) },
  'POST /api/v1/posts/:id/flags': { expect: api(SIGNED_IN, 201), call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/flags`, body: { reason: 'spam' } }) },
  'POST /api/v1/posts/:id/flags/hide': { expect: api(MODERATORS, 200), prepare: flag, call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/flags/hide` }) },
  'POST /api/v1/posts/:id/flags/dismiss': { expect: api(MODERATORS, 200), prepare: flag, call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/flags/dismiss` }) },
  'PUT /api/v1/posts/:id/answer': { expect: api(MODERATORS, 200), call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/answer`, body: { updateId: s.update.id } }) },
  'DELETE /api/v1/posts/:id/answer': { expect: api(MODERATORS, 200), prepare: linkAnswer, call: (s) => ({ url: `/api/v1/posts/${s.comment.id}/answer` }) },
  'PUT /api/v1/shifts': { expect: api(ADMINS, 200), call: () => ({ url: '/api/v1/shifts', body: { day: 7, evening: 15, night: 23 } }) },
  'POST /api/v1/duty/check-in': { expect: api(STAFF, 200), call: () => ({ url: '/api/v1/duty/check-in' }) },
  'POST /api/v1/duty/check-out': { expect: api(STAFF, 200), call: () => ({ url: '/api/v1/duty/check-out' }) },
  'PATCH /api/v1/users/:id': { expect: api(ADMINS, 200), call: async () => ({ url: `/api/v1/users/${(await newUser('customer')).actor.id}`, body: { role: 'moderator' } }) },
  'POST /api/v1/admin/tokens': { expect: api(ADMINS, 201), call: () => ({ url: '/api/v1/admin/tokens', body: { userId: commenter.actor.id } }) },
  'DELETE /api/v1/admin/tokens/:id': { expect: api(ADMINS, 204), call: async () => ({ url: `/api/v1/admin/tokens/${await spareTokenId()}` }) }
}

/**
 * The app's routes as its router lists them: one "METHOD /path" each. The
 * router prints a tree, each line the next piece of the path; a line it
 * could not read fails the test rather than be left out.
 */
function routesOf (app: FastifyInstance): string[] {
  const found: string[] = []
  const paths: string[] = []
  for (const line of app.printRoutes().split('\n')) {
    if (line.trim() === '') continue
    const match = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([A-Z]+(?:, [A-Z]+)*)\))?$/.exec(line)
    if (match === null) {
      t.fail(`a line of the route table could not be read: ${JSON.stringify(line)}`)
      continue
    }
    const depth = match[1]!.length / 4
    const path = (depth === 0 ? '' : paths[depth - 1]!) + match[2]!
    paths.length = depth
    paths.push(path)
    for (const method of match[3]?.split(', ') ?? []) found.push(`${method} ${path}`)
  }
  return found.sort()
}

const methodOf = (key: string) => key.split(' ')[0] as HTTPMethods
const pathOf = (key: string) => key.slice(key.indexOf(' ') + 1)

const routes = routesOf(app)
// Every await of the file comes before its first test: the tests run as soon as they are declared.
const browsers = new Map<Who, Browser>()
for (const who of EVERYONE) browsers.set(who, await openBrowser(who === 'anonymous' ? null : users[who]))

t.test('the route table is read right', async (t) => {
  t.ok(routes.length > 50, `${routes.length} routes found`)
  const unknown = routes.filter((route) => !app.hasRoute({ method: methodOf(route), url: pathOf(route) }))
  t.same(unknown, [], 'the router knows every route read from its table')
})

t.test('every route has its row, every row its route', async (t) => {
  const missing = routes.filter((route) => {
    // HEAD is made by the router for every GET: it is checked with the GET's row.
    if (methodOf(route) === 'HEAD') return ROUTES[`GET ${pathOf(route)}`] === undefined
    return ROUTES[route] === undefined
  })
  t.same(missing, [], 'routes of the app without a row in the matrix')
  const gone = Object.keys(ROUTES).filter((key) => !routes.includes(key))
  t.same(gone, [], 'rows of the matrix whose route the app no longer has')
  const headless = Object.keys(ROUTES).filter((key) => methodOf(key) === 'GET' && !routes.includes(`HEAD ${pathOf(key)}`))
  t.same(headless, [], 'GET routes without their HEAD')
})

/** What a call answered: its status, or 'login' for a 303 to the sign-in page. */
function outcomeOf (res: LightMyRequestResponse): Outcome {
  if (res.statusCode === 303 && String(res.headers.location).startsWith('/login?next=')) return 'login'
  return res.statusCode
}

/** Opens the live socket with the caller's credentials: 101 when it opens, else the status it was refused with. */
async function openSocket (url: string, headers: Record<string, string>): Promise<Outcome> {
  try {
    const socket = await app.injectWS(url, { headers })
    socket.terminate()
    return 101
  } catch (err) {
    const status = /Unexpected server response: (\d+)/.exec(String(err))?.[1]
    if (status === undefined) throw err
    return Number(status)
  }
}

/** Calls the route as `who`: the API with their token, pages with their browser. */
async function perform (method: HTTPMethods, who: Who, row: Row, scene: Scene): Promise<Outcome> {
  let user = who === 'anonymous' ? null : users[who]
  let browser = browsers.get(who)!
  let account = user ?? commenter
  if (row.ownAccount === true) {
    account = await newUser(who === 'anonymous' ? 'customer' : who)
    user = who === 'anonymous' ? null : account
    browser = await openBrowser(user)
  }
  const call = await row.call(scene, account)
  const bearer: Record<string, string> = user === null ? {} : { ...user.auth }
  if (row.socket === true && method === 'GET') return await openSocket(call.url, bearer)

  const request: InjectOptions = { method, url: call.url, remoteAddress: browser.address }
  if (call.url.startsWith('/api/')) {
    request.headers = bearer
    if (call.body !== undefined) request.payload = call.body
  } else {
    request.cookies = browser.cookies
    if (method !== 'GET' && method !== 'HEAD') {
      const fields = new URLSearchParams({ _csrf: browser.csrf })
      for (const [name, value] of Object.entries(call.body ?? {})) fields.set(name, String(value))
      request.headers = { 'content-type': 'application/x-www-form-urlencoded' }
      request.payload = fields.toString()
    }
  }
  const res = await app.inject(request)
  if (method === 'HEAD' && res.body !== '') t.fail(`HEAD ${call.url} answered with a body`)
  return outcomeOf(res)
}

for (const [key, row] of Object.entries(ROUTES)) {
  const method = methodOf(key)
  t.test(key, async (t) => {
    const newScene = async () => {
      const scene = await setScene()
      await row.prepare?.(scene)
      return scene
    }
    const shared = await newScene()
    for (const who of EVERYONE) {
      const expected = row.expect[who]
      const changes = method !== 'GET' && expected !== 'login' && expected < 400
      const scene = changes ? await newScene() : shared
      t.equal(await perform(method, who, row, scene), expected, `${who}: ${expected}`)
      if (method === 'GET') {
        // The router answers HEAD with the GET's handler: the same status, no body.
        const head = (row.head ?? row.expect)[who]
        t.equal(await perform('HEAD', who, row, scene), head, `${who}, HEAD: ${head}`)
      }
    }
  })
}
