import fp from 'fastify-plugin'
import { setPreferredLocale } from '../../../domain/users.ts'
import { LOCALES, LOCALE_COOKIE, type Locale, isLocale, pickLocale } from '../../i18n.ts'
import { type PostFragments, makePostFragments } from '../../post-fragments.ts'
import { type Views, loadViews, VIEWS_DIR } from '../../views.ts'
import { csrfToken, isSecretAddress } from './auth.ts'
import { PRIVATE_CACHE_CONTROL } from './page-cache.ts'

declare module 'fastify' {
  interface FastifyInstance {
    views: Views
    postFragments: PostFragments
  }
  interface FastifyRequest {
    locale: Locale
  }
  interface FastifyReply {
    /** Renders a page in the request's language and sends it as HTML. */
    page: (name: string, context?: Record<string, unknown>) => FastifyReply
    /** The same page as HTML, not sent: for the page cache. */
    pageHtml: (name: string, context?: Record<string, unknown>) => string
  }
}

const YEAR_SECONDS = 365 * 24 * 60 * 60
const SIGN_IN_PAGES = new Set(['/login', '/register'])

/**
 * A page's address, parsed as a path of this site: Node takes "//" or
 * "//evil.example/x", which `new URL(here, base)` would read as another host
 * (and the language links would lead there), or refuse.
 */
function addressOf (here: string): URL {
  try {
    return new URL(`http://localhost/${here.replace(/^\/+/, '')}`)
  } catch {
    return new URL('http://localhost/')
  }
}

/** The same page in each language: the current address with ?lang= set. */
function languageLinks (here: string, current: Locale) {
  const url = addressOf(here)
  return LOCALES.map((locale) => {
    url.searchParams.set('lang', locale)
    return { locale, href: url.pathname + url.search, current: locale === current }
  })
}

export default fp(async (fastify) => {
  const views = loadViews(VIEWS_DIR, { timeZone: fastify.config.tzDisplay })
  fastify.decorate('views', views)
  fastify.decorate('postFragments', makePostFragments(views))
  fastify.decorateRequest('locale', 'en')
  // After auth, so a signed-in user's preferred language counts.
  fastify.addHook('onRequest', async (request) => {
    const chosen = (request.query as Record<string, unknown> | undefined)?.lang
    // A signed-in user's choice on the pages is kept with the account, for
    // every browser and for e-mails; an API call's is for that call alone,
    // and so is a link's that was sent to someone (in their language: an
    // admin opening it is not choosing it). A link from another site shows
    // the page in its language, but changes nothing kept: a GET is no form,
    // and another site must not choose for the account (its e-mails too).
    const fromElsewhere = request.headers['sec-fetch-site'] === 'cross-site'
    if (request.actor !== null && isLocale(chosen) && request.actor.locale !== chosen && !request.url.startsWith('/api/') && !isSecretAddress(request) && !fromElsewhere) {
      request.actor = await setPreferredLocale(fastify.db, request.actor, chosen)
      // Not a moment later, when the database announces it: a second choice
      // made at once (French, then back to English) must see the first.
      fastify.forgetKeptUser(request.actor.id)
    }
    request.locale = pickLocale(request)
  })
  fastify.decorateReply('pageHtml', function (name: string, context: Record<string, unknown> = {}) {
    const request = this.request
    const chosen = (request.query as Record<string, unknown> | undefined)?.lang
    // An explicit choice of language sticks, for readers without an account
    // too: a sent link's for the one it was sent to (on the sign-in page
    // after it), not for a signed-in person opening it.
    if (isLocale(chosen) && request.cookies[LOCALE_COOKIE] !== chosen && !(isSecretAddress(request) && request.actor !== null)) {
      this.setCookie(LOCALE_COOKIE, chosen, { ...fastify.cookieOptions, maxAge: YEAR_SECONDS })
    }
    // A page re-rendered after a failed POST names the page it belongs to.
    const here = typeof context.here === 'string' ? context.here : request.method === 'GET' ? request.url : '/'
    const path = addressOf(here).pathname
    const actor = request.actor
    const html = views.page(name, {
      ...context,
      // Where signing in leads back to; the sign-in pages pass on their own.
      here: SIGN_IN_PAGES.has(path) ? (typeof context.next === 'string' ? context.next : '/') : path,
      locale: request.locale,
      actor,
      languages: languageLinks(here, request.locale),
      // Signed-in pages carry a token for the sign-out form and for the live script.
      csrf: context.csrf ?? (actor === null ? undefined : csrfToken(request, this)),
      // Staff see, on every page, the threads whose promised update is overdue.
      overdueAlerts: request.overdueAlerts
    })
    return html
  })
  // A page rendered for one request (a signed-in reader's, or one with a form
  // and its CSRF token) is no one else's: no cache in front may keep it.
  fastify.decorateReply('page', function (name: string, context: Record<string, unknown> = {}) {
    if (!this.hasHeader('cache-control')) this.header('cache-control', PRIVATE_CACHE_CONTROL)
    return this.type('text/html; charset=utf-8').send(this.pageHtml(name, context))
  })
}, { name: 'views', dependencies: ['auth'] })
