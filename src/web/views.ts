import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Handlebars from 'handlebars'
import { type Locale, translate } from './i18n.ts'

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

function templatesIn (dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.hbs')) out.set(basename(file, '.hbs'), readFileSync(join(dir, file), 'utf8'))
  }
  return out
}

/** Compiles every template once, at start-up; rendering is then a function call. */
export function loadViews (dir = VIEWS_DIR): Views {
  const hbs = Handlebars.create()
  registerHelpers(hbs)
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

function registerHelpers (hbs: typeof Handlebars): void {
  // {{t "key" name=value}}: the message in the page's language.
  hbs.registerHelper('t', function (this: unknown, key: string, options: Handlebars.HelperOptions) {
    return translate(options.data.root.locale as Locale, key, options.hash as Record<string, unknown>)
  })
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b)
}
