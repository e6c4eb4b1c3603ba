import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Handlebars from 'handlebars'
import { type Locale, hasMessage, isolate, translate } from './i18n.ts'

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url))

export interface Views {
  /** A page inside the layout. `context.locale` picks the language. */
  page: (name: string, context: PageContext) => string
  /** One partial alone, e.g. a post for the live stream. */
  partial: (name: string, context: Record<string, unknown>) => string
}

export interface PageContext extends Record<string, unknown> {
  locale: Locale
  title?: string
}

export interface ViewOptions {
  /** The organisation's time zone (TZ_DISPLAY): every date and time is shown in it. */
  timeZone: string
}

function templatesIn (dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.hbs')) out.set(basename(file, '.hbs'), readFileSync(join(dir, file), 'utf8'))
  }
  return out
}

/** Compiles every template once, at start-up; rendering is then a function call. */
export function loadViews (dir = VIEWS_DIR, options: ViewOptions = { timeZone: 'UTC' }): Views {
  const hbs = Handlebars.create()
  registerHelpers(hbs, options.timeZone)
  const partials = new Map<string, Handlebars.TemplateDelegate>()
  for (const [name, source] of templatesIn(join(dir, 'partials'))) {
    const compiled = hbs.compile(source, { strict: false })
    partials.set(name, compiled)
    hbs.registerPartial(name, compiled)
  }
  const pages = new Map<string, Handlebars.TemplateDelegate>()
  for (const [name, source] of templatesIn(join(dir, 'pages'))) pages.set(name, hbs.compile(source))
  const layout = hbs.compile(readFileSync(join(dir, 'layouts', 'main.hbs'), 'utf8'))

  return {
    page (name, context) {
      const template = pages.get(name)
      if (template === undefined) throw new Error(`no page template "${name}"`)
      return layout({ ...context, body: template(context) })
    },
    partial (name, context) {
      const template = partials.get(name)
      if (template === undefined) throw new Error(`no partial template "${name}"`)
      return template(context)
    }
  }
}

// British English reads the 24-hour clock the organisation works by ("14:15").
const INTL_LOCALE: Record<Locale, string> = { en: 'en-GB', fr: 'fr-FR' }

export type TimeStyle = 'datetime' | 'time' | 'date'

/** The full date, time to the minute and zone: "Monday, 7 December 2026 at 21:55 CET" (dateStyle "full" with timeStyle "long" would add seconds). */
const FULL: Intl.DateTimeFormatOptions = { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }

/** Date and time, and the zone they are in, for what no script puts in the reader's zone: "7 Dec 2026, 21:55 CET". */
const ZONED: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }

/** Date and time formatters per locale and style, made once: Intl formatters are costly to build. */
export function makeDateFormatter (timeZone: string) {
  const cache = new Map<string, Intl.DateTimeFormat>()
  const formatter = (locale: Locale, style: TimeStyle | 'full' | 'zoned') => {
    const key = `${locale}:${style}`
    let format = cache.get(key)
    if (format === undefined) {
      const shape: Intl.DateTimeFormatOptions =
        style === 'full' ? FULL
          : style === 'zoned' ? ZONED
            : style === 'time' ? { timeStyle: 'short' }
            : style === 'date' ? { dateStyle: 'medium' }
              : { dateStyle: 'medium', timeStyle: 'short' }
      format = new Intl.DateTimeFormat(INTL_LOCALE[locale], { ...shape, timeZone })
      cache.set(key, format)
    }
    return format
  }
  // A page shows the same few hundred instants render after render, and
  // formatting one is the costliest part of a thread page: each is formatted once.
  const formatted = new Map<string, string>()
  return (locale: Locale, date: Date, style: TimeStyle | 'full' | 'zoned' = 'datetime') => {
    const key = `${locale}:${style}:${date.getTime()}`
    let text = formatted.get(key)
    if (text === undefined) {
      text = formatter(locale, style).format(date)
      if (formatted.size >= 20_000) formatted.clear()
      formatted.set(key, text)
    }
    return text
  }
}

export type DateFormatter = ReturnType<typeof makeDateFormatter>
const zoneFormatters = new Map<string, DateFormatter>()
/** The formatter of a time zone, made once for the process: e-mails go by the hundred, each asking for it. */
export function dateFormatterFor (timeZone: string): DateFormatter {
  let format = zoneFormatters.get(timeZone)
  if (format === undefined) {
    format = makeDateFormatter(timeZone)
    zoneFormatters.set(timeZone, format)
  }
  return format
}

const localeOf = (options: Handlebars.HelperOptions): Locale => options.data.root.locale as Locale

function registerHelpers (hbs: typeof Handlebars, timeZone: string): void {
  const formatDate = makeDateFormatter(timeZone)
  const escape = hbs.escapeExpression

  // {{t "key" name=value}}: the message in the page's language. The message and
  // plain values are escaped; a value made by another helper (a <time>) is kept as HTML.
  // The escaped message of each key, per locale, made once.
  const escapedMessages = new Map<string, string>()
  hbs.registerHelper('t', function (this: unknown, key: string, options: Handlebars.HelperOptions) {
    const vars = options.hash as Record<string, unknown>
    const locale = localeOf(options)
    const cacheKey = `${locale}:${key}`
    let template = escapedMessages.get(cacheKey)
    if (template === undefined) {
      template = escape(translate(locale, key))
      if (hasMessage(key)) escapedMessages.set(cacheKey, template)
    }
    if (!template.includes('{')) return new hbs.SafeString(template)
    const html = template.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = vars[name]
      if (value === undefined) return whole
      return value instanceof hbs.SafeString ? value.toHTML() : escape(String(value))
    })
    return new hbs.SafeString(html)
  })

  // {{time iso}}: a <time> element in the page's language and the organisation's
  // time zone, with the full date in its title. {{time iso "auto" ref}} shows the
  // time alone when it falls on the same day as `ref`, else the date too; the
  // element carries `ref` (data-ref), for the script that shows it in the
  // reader's zone, where the two may fall on different days.
  hbs.registerHelper('time', function (this: unknown, iso: unknown, ...rest: unknown[]) {
    const options = rest.pop() as Handlebars.HelperOptions
    if (typeof iso !== 'string') return ''
    const date = new Date(iso)
    if (Number.isNaN(date.getTime())) return ''
    const locale = localeOf(options)
    let style = (typeof rest[0] === 'string' ? rest[0] : 'datetime') as TimeStyle | 'auto'
    let ref = ''
    if (style === 'auto') {
      const refDate = typeof rest[1] === 'string' ? new Date(rest[1]) : new Date()
      style = formatDate(locale, date, 'date') === formatDate(locale, refDate, 'date') ? 'time' : 'datetime'
      if (!Number.isNaN(refDate.getTime())) ref = ` data-ref="${escape(refDate.toISOString())}"`
    }
    const html = `<time datetime="${escape(date.toISOString())}"${ref} title="${escape(formatDate(locale, date, 'full'))}">${escape(formatDate(locale, date, style))}</time>`
    return new hbs.SafeString(html)
  })

  // {{zone}}: the organisation's time zone, which the pages' times are in
  // until a script puts them in the reader's: "Central European Time (Europe/Paris)".
  const zones = new Map<Locale, string>()
  hbs.registerHelper('zone', function (this: unknown, options: Handlebars.HelperOptions) {
    const locale = localeOf(options)
    let name = zones.get(locale)
    if (name === undefined) {
      const generic = /^(Etc\/)?(UTC|GMT)$/.test(timeZone)
        ? undefined
        : new Intl.DateTimeFormat(INTL_LOCALE[locale], { timeZone, timeZoneName: 'longGeneric' }).formatToParts(new Date()).find((part) => part.type === 'timeZoneName')?.value
      name = generic === undefined ? 'UTC' : `${generic} (${timeZone})`
      zones.set(locale, name)
    }
    return name
  })

  // {{duration minutes}}: "12 min", "1 h 5 min", "2 d 3 h".
  hbs.registerHelper('duration', function (this: unknown, minutes: unknown, options: Handlebars.HelperOptions) {
    const total = Math.max(0, Math.round(Number(minutes)))
    const locale = localeOf(options)
    if (total < 60) return translate(locale, 'duration.minutes', { minutes: total })
    // "1 h", not "1 h 0 min".
    if (total < 24 * 60) return translate(locale, total % 60 === 0 ? 'duration.wholeHours' : 'duration.hours', { hours: Math.floor(total / 60), minutes: total % 60 })
    const hours = Math.floor((total % 1440) / 60)
    return translate(locale, hours === 0 ? 'duration.wholeDays' : 'duration.days', { days: Math.floor(total / 1440), hours })
  })

  // {{tn "thread.posts" count}}: the plural form the language wants, from "<key>.one" or "<key>.other".
  const plurals = new Map<Locale, Intl.PluralRules>()
  hbs.registerHelper('tn', function (this: unknown, key: string, count: unknown, options: Handlebars.HelperOptions) {
    const locale = localeOf(options)
    let rules = plurals.get(locale)
    if (rules === undefined) {
      rules = new Intl.PluralRules(INTL_LOCALE[locale])
      plurals.set(locale, rules)
    }
    const n = Number(count)
    return translate(locale, `${key}.${rules.select(n) === 'one' ? 'one' : 'other'}`, { count: n })
  })

  // {{url href}}: a link built by the server, escaped for an attribute and no
  // more, so "?view=official" stays readable in the page's source.
  hbs.registerHelper('url', (href: unknown) => new hbs.SafeString(String(href ?? '')
    .replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/</g, '&lt;').replace(/>/g, '&gt;')))

  // {{bdi name}}: a name or title people typed, set apart from the words around it,
  // so that right-to-left text (or a stray direction override) cannot reorder them.
  // {{isolated title}} does the same with Unicode isolates, where markup cannot go (<title>).
  hbs.registerHelper('bdi', (text: unknown) => new hbs.SafeString(`<bdi>${escape(String(text ?? ''))}</bdi>`))
  hbs.registerHelper('isolated', (text: unknown) => isolate(String(text ?? '')))

  // {{reason post.hiddenReason}}: a hide reason; the ones the flag queue writes are words of the page's language.
  hbs.registerHelper('reason', function (this: unknown, reason: unknown, options: Handlebars.HelperOptions) {
    const key = reason === 'pending review' ? 'moderation.flagReason.pendingReview' : `moderation.flagReason.${String(reason)}`
    return hasMessage(key) ? translate(localeOf(options), key) : String(reason ?? '')
  })

  // {{concat "status." thread.status}}: builds a message key.
  hbs.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).map(String).join(''))
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b)
  hbs.registerHelper('not', (a: unknown) => !a)
  hbs.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean))
  hbs.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean))
}
