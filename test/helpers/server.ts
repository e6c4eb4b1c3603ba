import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { connectDatabase } from '../../src/db/connect.ts'
import type { Role } from '../../src/db/database.ts'
import { createApiToken } from '../../src/domain/tokens.ts'
import { createUser } from '../../src/domain/users.ts'
import { PASSWORD, csrfFieldOf } from './app.ts'
import { freePort } from './cluster.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface ServerProcess {
  /** 127.0.0.1:port, the same across restarts. */
  host: string
  base: string
  /** Starts the process (again) and waits until it serves, unless told not to wait. */
  start: (options?: StartOptions) => Promise<void>
  /** SIGKILL: no shutdown, no goodbye to its sockets. */
  kill: () => Promise<void>
  /** SIGTERM, as a deploy stops it; resolves with its exit code once it has exited. */
  stop: () => Promise<number | null>
  /** What the process has written to stdout and stderr so far. */
  output: () => string
  /** What it has written to stdout alone: its log lines. */
  stdout: () => string
  /** Whether the process runs: a crash or an unhandled rejection ends it. */
  alive: () => boolean
  /** Its process id, while it runs. */
  pid: () => number | undefined
}

export interface StartOptions {
  /** Whether to wait until it serves (/readyz answers 200); yes by default. */
  untilServing?: boolean
}

/**
 * The real server, `npm start` style, as a child process on a port of its own:
 * what runs in production, so a test can kill it for real. Stopped when the
 * test ends.
 */
export async function startServer (t: Test, databaseUrl: string, options: StartOptions = {}): Promise<ServerProcess> {
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  let child: ChildProcess | null = null
  let exited: Promise<number | null> = Promise.resolve(null)
  let log = ''
  let stdout = ''

  const start = async ({ untilServing = true }: StartOptions = {}) => {
    if (child !== null) throw new Error('the server is already running')
    // As in production: without the test runner's loaders.
    const { NODE_OPTIONS: _options, ...inherited } = process.env
    const started = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        ...inherited,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        SESSION_SECRET: 'fault-test-secret-that-is-long-enough',
        LOG_LEVEL: 'warn'
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    child = started
    started.stdout!.on('data', (chunk) => {
      log += String(chunk)
      stdout += String(chunk)
    })
    started.stderr!.on('data', (chunk) => { log += String(chunk) })
    exited = new Promise((resolve) => started.once('exit', (code, signal) => {
      log += `\n[exited: ${signal ?? code}]\n`
      if (child === started) child = null
      resolve(code)
    }))
    if (!untilServing) return
    const deadline = Date.now() + 60_000
    for (;;) {
      if (child !== started) throw new Error(`the server stopped while starting:\n${log.slice(-2000)}`)
      try {
        // Ready: /healthz answers as soon as the process is up, before its app serves.
        if ((await fetch(`http://${host}/readyz`)).status === 200) return
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`the server did not start within a minute:\n${log.slice(-2000)}`)
      await pause(100)
    }
  }

  const kill = async () => {
    child?.kill('SIGKILL')
    await exited
  }
  const stop = async () => {
    child?.kill('SIGTERM')
    return await exited
  }

  // Should the test process end before its teardown, the server goes with it.
  const killNow = () => { child?.kill('SIGKILL') }
  process.once('exit', killNow)
  t.teardown(async () => {
    process.removeListener('exit', killNow)
    // What the server said is the first thing to read when a fault test fails: on stderr, beside tap's report.
    const failedAsserts = t.assertTotals.fail
    if (failedAsserts > 0) process.stderr.write(`${t.name}: ${failedAsserts} failed; server output:\n${log.slice(-4000)}\n`)
    if (child === null) return
    const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000)
    await stop()
    clearTimeout(timer)
  })

  await start(options)
  return { host, base: `http://${host}`, start, kill, stop, output: () => log, stdout: () => stdout, alive: () => child !== null, pid: () => child?.pid }
}

export interface Answer {
  status: number
  headers: Headers
  text: string
  /** The body as JSON, or undefined when it is not JSON. */
  json: any
}

/**
 * One HTTP request to a server process. One that gets no answer in 15 s
 * (a hang) rejects, and so does a connection the server refused.
 */
export async function call (base: string, method: string, path: string, options: { token?: string, json?: unknown, form?: Record<string, string>, headers?: Record<string, string>, jar?: CookieJar } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.jar !== undefined && options.jar.size > 0) headers.cookie = options.jar.header()
  let body: string | undefined
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(options.form).toString()
  }
  const res = await fetch(base + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(15_000) })
  options.jar?.take(res.headers)
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json }
}

/** The cookies a browser would keep from one server. */
export class CookieJar {
  private readonly cookies = new Map<string, string>()

  get size (): number { return this.cookies.size }

  take (headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at).trim()
      const value = pair.slice(at + 1).trim()
      if (value === '' || /;\s*max-age=0/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  header (): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

/** Signs in through the login form, as a browser without JavaScript does. */
export async function signInOver (base: string, email: string): Promise<CookieJar> {
  const jar = new CookieJar()
  const form = await call(base, 'GET', '/login', { jar })
  const login = await call(base, 'POST', '/login', { jar, form: { _csrf: csrfFieldOf(form.text), email, password: PASSWORD } })
  if (login.status !== 303) throw new Error(`sign-in answered ${login.status}: ${login.text.slice(0, 300)}`)
  return jar
}

export interface Account { id: number, email: string, token: string }

/** A user made straight in the server's database (migrated by the server), with an API token. */
export async function makeAccount (databaseUrl: string, role: Role, email: string): Promise<Account> {
  const database = await connectDatabase({ databaseUrl, dataDir: 'memory://', poolSize: 1 })
  try {
    const actor = await createUser(database.db, { email, name: email.split('@')[0]!, password: PASSWORD, role, shift: role === 'technician' ? 'day' : null })
    return { id: actor.id, email, token: await createApiToken(database.db, actor.id) }
  } finally {
    await database.close()
  }
}

export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls until `check` holds; throws, naming what it waited for, after `ms`. */
export async function waitUntil (what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${ms} ms`)
    await pause(50)
  }
}

/** Waits until the server's /readyz answers 200: its database answers again. */
export const ready = (base: string) =>
  waitUntil('/readyz to answer 200', () => call(base, 'GET', '/readyz').then((a) => a.status === 200, () => false))
