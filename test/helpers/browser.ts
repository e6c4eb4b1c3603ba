import { existsSync } from 'node:fs'
import { type Browser, type BrowserContext, type BrowserContextOptions, type Page, chromium } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { type TestApp, PASSWORD, type TestUser, buildTestApp } from './app.ts'
import { listen } from './live.ts'
import { cannotRun } from './skip.ts'

/**
 * Debian's Chromium, as its headless shell where that is installed (the same
 * engine without the desktop browser around it: half the work per page), else
 * the browser itself; CHROMIUM_PATH points elsewhere. Nothing is downloaded.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find((path) => existsSync(path)) ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic'
]

/**
 * Whether the browser tests of this file can run. Without Chromium they are
 * skipped with a plain reason, except under CI=true, where a missing browser
 * is a failure: CI must never pass by running nothing.
 */
export function browserAvailable (t: Test): boolean {
  if (existsSync(CHROMIUM_PATH)) return true
  return cannotRun(t, `the browser tests did not run: no Chromium at ${CHROMIUM_PATH}. Install it with \`apt-get install chromium-headless-shell\` (or chromium, or set CHROMIUM_PATH)`)
}

export interface Site extends TestApp {
  /** http://127.0.0.1:port */
  base: string
  browser: Browser
  /** A new browser context (its own cookies and storage, as another person) with one page. */
  open: (options?: BrowserContextOptions) => Promise<{ context: BrowserContext, page: Page }>
  /** Signs a user in through the login form of the page. */
  signIn: (page: Page, user: TestUser) => Promise<void>
}

/**
 * A real server on a real database, and a headless Chromium; both closed at
 * teardown. `launch` gives the browser a fresh profile in a temporary folder
 * of its own, removed when it closes.
 */
export async function startSite (t: Test, options: Parameters<typeof buildTestApp>[1] = {}): Promise<Site> {
  const browser = await launchBrowser(t)
  const testApp = await buildTestApp(t, options)
  return { ...testApp, ...(await serveTo(browser, testApp.app)) }
}

/** A headless Chromium, closed at teardown. */
export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 })
  t.teardown(() => browser.close())
  return browser
}

/** Puts an app on a port of its own and gives the browser the way to it. */
export async function serveTo (browser: Browser, app: FastifyInstance): Promise<Omit<Site, keyof TestApp>> {
  const base = `http://${await listen(app)}`

  const open = async (contextOptions: BrowserContextOptions = {}) => {
    const context = await browser.newContext({ baseURL: base, locale: 'en-GB', ...contextOptions })
    context.setDefaultTimeout(10_000)
    const page = await context.newPage()
    return { context, page }
  }

  const signIn = async (page: Page, user: TestUser) => {
    await page.goto('/login')
    await page.locator('input[name="email"]').fill(user.actor.email)
    await page.locator('input[name="password"]').fill(PASSWORD)
    await Promise.all([
      page.waitForURL((url) => url.pathname !== '/login'),
      page.locator('form[action="/login"] button[type="submit"]').click()
    ])
  }

  return { base, browser, open, signIn }
}
