import type { FastifyRequest } from 'fastify'
import { en } from './locales/en.ts'
import { fr } from './locales/fr.ts'

export type Locale = 'en' | 'fr'
export const LOCALES: readonly Locale[] = ['en', 'fr']
export const LOCALE_COOKIE = 'sitrep_lang'

/** Every key of the English messages; the French ones must have the same (checked by the compiler). */
export type MessageKey = keyof typeof en
export type Messages = Record<MessageKey, string>

/**
 * French typography, set once here rather than typed invisibly in every
 * message: a no-break space before : ; ? ! and », after « and "n°", between
 * a number and its unit and between groups of digits, so that a phone's
 * narrow line never starts with a colon or leaves "min" or "000" alone.
 */
export function frenchSpacing (text: string): string {
  return text
    .replace(/ ([:;?!»])/g, '\u00a0$1')
    .replace(/« /g, '«\u00a0')
    .replace(/([\d}]) (s|min|h|j)\b/g, '$1\u00a0$2')
    .replace(/\bn° /g, 'n°\u00a0')
    .replace(/(?<=\d) (?=\d{3}\b)/g, '\u00a0')
}

const catalogues: Record<Locale, Messages> = {
  en,
  fr: Object.fromEntries(Object.entries(fr).map(([key, text]) => [key, frenchSpacing(text)])) as Messages
}

/**
 * A name or title people typed, in text where markup cannot go (an e-mail, a
 * feed title, an attribute): set apart by Unicode isolates, so right-to-left
 * text or a stray direction override in it cannot reorder the words around it.
 */
export const isolate = (text: string): string => `\u2068${text}\u2069`

export const isLocale = (value: unknown): value is Locale => value === 'en' || value === 'fr'

/**
 * The language of a page: an explicit ?lang= choice, then the language cookie,
 * then the signed-in user's preference, then the browser's Accept-Language.
 * An API call's Accept-Language comes before the preference: a browser sends
 * one with every page whatever its user chose, a client sends it for that call.
 */
export function pickLocale (request: FastifyRequest): Locale {
  const query = (request.query as Record<string, unknown> | undefined)?.lang
  if (isLocale(query)) return query
  const cookie = request.cookies[LOCALE_COOKIE]
  if (isLocale(cookie)) return cookie
  const header = request.headers['accept-language']
  if (request.url.startsWith('/api/')) {
    const asked = acceptedLocale(header)
    if (asked !== undefined) return asked
  }
  if (request.actor?.locale != null) return request.actor.locale
  return fromAcceptLanguage(header)
}

export const fromAcceptLanguage = (header: string | undefined): Locale => acceptedLocale(header) ?? 'en'

/** The language of ours that an Accept-Language header ranks first, if it names one. */
function acceptedLocale (header: string | undefined): Locale | undefined {
  if (header === undefined) return undefined
  const ranked = header.split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';')
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined)
      return { lang: tag.toLowerCase().split('-')[0], q: q === undefined ? 1 : Number(q), index }
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
  return ranked.map((entry) => entry.lang).find(isLocale)
}

/** The message in the locale, with {name} placeholders filled in. */
export function translate (locale: Locale, key: string, vars: Record<string, unknown> = {}): string {
  const template = (catalogues[locale] as Record<string, string>)[key] ?? (catalogues.en as Record<string, string>)[key] ?? key
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] === undefined ? whole : String(vars[name]))
}

export const hasMessage = (key: string): boolean => key in catalogues.en

/** A wait as people read it: "45 s" up to two minutes, then "14 min", "1 h 5 min". */
export function waitOf (locale: Locale, seconds: number | undefined): string | undefined {
  if (seconds === undefined) return undefined
  if (seconds < 120) return translate(locale, 'duration.seconds', { seconds })
  const minutes = Math.ceil(seconds / 60)
  if (minutes < 60) return translate(locale, 'duration.minutes', { minutes })
  return translate(locale, minutes % 60 === 0 ? 'duration.wholeHours' : 'duration.hours', { hours: Math.floor(minutes / 60), minutes: minutes % 60 })
}
