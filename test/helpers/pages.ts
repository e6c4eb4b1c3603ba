import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { PASSWORD, type TestUser, cookieFrom, csrfFieldOf } from './app.ts'

export type Cookies = Record<string, string>

/** Signs a user in through the login form, as a browser would; returns the cookies to send after. */
export async function signIn (app: FastifyInstance, user: TestUser): Promise<Cookies> {
  const form = await app.inject({ url: '/login' })
  const csrf = cookieFrom(form, 'sitrep_csrf')
  if (csrf === undefined) throw new Error('the login page set no CSRF cookie')
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    cookies: { sitrep_csrf: csrf },
    payload: { _csrf: csrfFieldOf(form.body), email: user.actor.email, password: PASSWORD }
  })
  const session = cookieFrom(login, SESSION_COOKIE)
  if (login.statusCode !== 303 || session === undefined) throw new Error(`sign-in failed: ${login.statusCode}`)
  return { sitrep_csrf: csrf, [SESSION_COOKIE]: session }
}

/** Loads a page as the signed-in user, then sends the form at `action` on it with the page's CSRF token. */
export async function submitForm (
  app: FastifyInstance,
  cookies: Cookies,
  page: string,
  action: string,
  fields: Record<string, string>
): Promise<LightMyRequestResponse> {
  const res = await app.inject({ url: page, cookies })
  if (res.statusCode !== 200) throw new Error(`${page} answered ${res.statusCode}`)
  return await app.inject({ method: 'POST', url: action, cookies, payload: { _csrf: csrfFieldOf(res.body), ...fields } })
}

/** A JSON API call with a user's Bearer token; throws unless it answers `expect`. */
export async function apiAs<T = Record<string, unknown>> (
  app: FastifyInstance,
  user: TestUser,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: Record<string, unknown>,
  expect = method === 'POST' && !url.includes('/hide') && !url.includes('/restore') ? 201 : 200
): Promise<T> {
  const res = await app.inject({ method, url: `/api/v1${url}`, headers: user.auth, ...(payload !== undefined && { payload }) })
  if (res.statusCode !== expect) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body}`)
  return res.json() as T
}

/** The text of the element with this id: from its opening tag to the matching close of the same tag. */
export function sectionById (html: string, id: string): string {
  const open = new RegExp(`<(\\w+)[^>]*\\sid="${id}"[^>]*>`).exec(html)
  if (open === null) throw new Error(`no element with id "${id}"`)
  const tag = open[1]!
  const re = new RegExp(`<(/?)${tag}\\b[^>]*>`, 'g')
  re.lastIndex = open.index + open[0].length
  let depth = 1
  for (let m = re.exec(html); m !== null; m = re.exec(html)) {
    depth += m[1] === '/' ? -1 : 1
    if (depth === 0) return html.slice(open.index, m.index + m[0].length)
  }
  throw new Error(`element "${id}" is not closed`)
}

/** HTML-escaped text as a page shows it, e.g. to find a title in the source. */
export const escaped = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;')
