import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import addressparser from 'nodemailer/lib/addressparser'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  host: string
  port: number
  /** A PostgreSQL URL; undefined means the embedded database in `dataDir`. */
  databaseUrl: string | undefined
  /**
   * Read replicas of the database at `databaseUrl` (DATABASE_REPLICA_URLS):
   * readers' pages are read from them once they hold every event the instance
   * knows of. None by default.
   */
  databaseReplicaUrls: string[]
  dataDir: string
  sessionSecret: string
  logLevel: LogLevel
  publicUrl: string
  smtpUrl: string | undefined
  /** The sender of the forum's e-mail (MAIL_FROM): "Sitrep <sitrep@host of PUBLIC_URL>" unless named. */
  mailFrom: string
  tzDisplay: string
  /** Open live sockets allowed per client address. */
  liveSocketsPerIp: number
  /** Anonymous pages served from memory (PAGE_CACHE=off renders every request, to measure it). */
  pageCache: boolean
  /**
   * The proxies in front whose `X-Forwarded-For` names the client (Fastify's
   * `trustProxy`): their addresses or subnets; none by default.
   */
  trustProxy: string[] | undefined
}

/** Start-up stops on the first bad variable, with one line naming it. */
export class ConfigError extends Error {
  constructor (variable: string, problem: string) {
    super(`${variable}: ${problem}`)
    this.name = 'ConfigError'
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const config = loadCommandConfig(env)
  const sessionSecret = env.SESSION_SECRET !== undefined
    ? parseSessionSecret(env.SESSION_SECRET)
    : keptSessionSecret(config.dataDir)
  return { ...config, sessionSecret }
}

/** What the admin command line needs: all but the session secret, which it never signs with (nor keeps a new one in DATA_DIR for). */
export type CommandConfig = Omit<Config, 'sessionSecret'>

export function loadCommandConfig (env: NodeJS.ProcessEnv = process.env): CommandConfig {
  const host = parseHost(env.HOST)
  const port = parsePort(env.PORT)
  const dataDir = resolve(env.DATA_DIR?.trim() || './data')
  const databaseUrl = parseDatabaseUrl('DATABASE_URL', env.DATABASE_URL)
  const databaseReplicaUrls = parseReplicaUrls(env.DATABASE_REPLICA_URLS, databaseUrl)
  const logLevel = parseLogLevel(env.LOG_LEVEL)
  const publicUrl = parsePublicUrl(env.PUBLIC_URL, host, port)
  const smtpUrl = parseSmtpUrl(env.SMTP_URL)
  const mailFrom = parseMailFrom(env.MAIL_FROM, publicUrl)
  const tzDisplay = parseTimeZone(env.TZ_DISPLAY)
  const liveSocketsPerIp = parsePositiveInteger('LIVE_SOCKETS_PER_IP', env.LIVE_SOCKETS_PER_IP, 200)
  const pageCache = parseOnOff('PAGE_CACHE', env.PAGE_CACHE, true)
  const trustProxy = parseTrustProxy(env.TRUST_PROXY)
  return { host, port, databaseUrl, databaseReplicaUrls, dataDir, logLevel, publicUrl, smtpUrl, mailFrom, tzDisplay, liveSocketsPerIp, pageCache, trustProxy }
}

// A name as DNS has them: letters, digits and inner hyphens, dot-separated.
const HOST_NAME = /^(?=.{1,253}$)[a-z\d]([a-z\d-]{0,61}[a-z\d])?(\.[a-z\d]([a-z\d-]{0,61}[a-z\d])?)*$/i

function parseHost (value: string | undefined): string {
  const host = value?.trim() || '127.0.0.1'
  // A name of digits and dots alone is an IPv4 address, and must be a valid one ("999.999.1.1" is not).
  if (isIP(host) === 0 && (!HOST_NAME.test(host) || /^[\d.]+$/.test(host))) {
    throw new ConfigError('HOST', `"${host}" is not an address or a host name to listen on (e.g. 127.0.0.1, 0.0.0.0 or ::)`)
  }
  return host
}

function parseOnOff (variable: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value.trim() === '') return fallback
  const word = value.trim().toLowerCase()
  if (word === 'on') return true
  if (word === 'off') return false
  throw new ConfigError(variable, `"${value}" is neither on nor off`)
}

// The names of address ranges Fastify's `trustProxy` knows (proxy-addr's).
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/** `10.0.0.5,10.1.0.0/16` or `loopback`: the proxies believed about the client's address. */
function parseTrustProxy (value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/')
    const family = isIP(address!)
    const maxBits = family === 4 ? 32 : 128
    const ok = PROXY_RANGES.has(entry) ||
      (family !== 0 && rest.length === 0 && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)))
    if (!ok) throw new ConfigError('TRUST_PROXY', `"${entry}" is not an address, a subnet (10.0.0.0/8), loopback, linklocal or uniquelocal`)
  }
  return entries
}

function parsePositiveInteger (variable: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback
  // In digits: Number() would also read 1e3 and 0x10.
  const number = /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(number) || number < 1) throw new ConfigError(variable, `"${value}" is not a whole number above 0`)
  return number
}

function parsePort (value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 3000
  const port = /^\s*\d{1,5}\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('PORT', `"${value}" is not a port number (0-65535)`)
  }
  return port
}

function parseDatabaseUrl (variable: string, value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new ConfigError(variable, 'is not a URL (expected postgres://user@host:port/database)')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(variable, `must start with postgres:// (got ${url.protocol}//)`)
  }
  // postgres:sitrep parses as a URL too, and names neither server nor database.
  if (!/^postgres(ql)?:\/\//i.test(value.trim())) {
    throw new ConfigError(variable, 'must start with postgres:// (expected postgres://user@host:port/database)')
  }
  return value.trim()
}

/** Comma-separated PostgreSQL URLs of replicas of DATABASE_URL's server. */
function parseReplicaUrls (value: string | undefined, databaseUrl: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return []
  if (databaseUrl === undefined) throw new ConfigError('DATABASE_REPLICA_URLS', 'needs DATABASE_URL, the server they replicate (the embedded database has no replicas)')
  const entries = value.split(',').filter((entry) => entry.trim() !== '')
  if (entries.length === 0) throw new ConfigError('DATABASE_REPLICA_URLS', 'names no URL (expected postgres://user@host:port/database, comma-separated)')
  return entries.map((entry) => parseDatabaseUrl('DATABASE_REPLICA_URLS', entry)!)
}

function parseLogLevel (value: string | undefined): LogLevel {
  if (value === undefined || value.trim() === '') return 'info'
  const level = value.trim().toLowerCase() as LogLevel
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError('LOG_LEVEL', `"${value}" is not one of ${LOG_LEVELS.join(', ')}`)
  }
  return level
}

function parsePublicUrl (value: string | undefined, host: string, port: number): string {
  if (value === undefined || value.trim() === '') {
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
    return `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError('PUBLIC_URL', `"${value}" is not a URL (expected https://status.example.org)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('PUBLIC_URL', 'must start with http:// or https://')
  }
  // Every link the app makes starts at the root: a path here would be dropped without a word.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new ConfigError('PUBLIC_URL', `must be an origin alone, without a path (${url.origin}): Sitrep is served at the root of its address`)
  }
  return url.origin
}

function parseSmtpUrl (value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined
  try {
    const url = new URL(value)
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error('protocol')
    if (url.hostname === '') throw new Error('host')
    // Read as the mail library reads them, at the first mail: a bad escape (%ZZ) is said now.
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    throw new ConfigError('SMTP_URL', 'is not an smtp:// or smtps:// URL naming its server (user and password %-encoded)')
  }
  return value
}

// One mailbox: local part, @, a domain with a dot or a host name the relay knows.
const MAILBOX = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+$/

/** `Status desk <status@example.org>` or `status@example.org`: the relay may refuse any other sender. */
function parseMailFrom (value: string | undefined, publicUrl: string): string {
  if (value === undefined || value.trim() === '') return `Sitrep <sitrep@${new URL(publicUrl).hostname}>`
  const addresses = addressparser(value.trim())
  const only = addresses.length === 1 ? addresses[0]! : undefined
  if (only === undefined || !('address' in only) || !MAILBOX.test(only.address ?? '')) {
    throw new ConfigError('MAIL_FROM', `"${value}" is not one e-mail address (e.g. Status desk <status@example.org>)`)
  }
  return value.trim()
}

function parseTimeZone (value: string | undefined): string {
  if (value === undefined || value.trim() === '') return 'UTC'
  try {
    new Intl.DateTimeFormat('en', { timeZone: value.trim() })
  } catch {
    throw new ConfigError('TZ_DISPLAY', `"${value}" is not an IANA time zone (e.g. Europe/Paris)`)
  }
  return value.trim()
}

function parseSessionSecret (value: string): string {
  if (value.length < 32) throw new ConfigError('SESSION_SECRET', 'must be at least 32 characters long')
  return value
}

// Without SESSION_SECRET, one is generated on first start and kept, so sessions
// survive restarts of a single instance.
function keptSessionSecret (dataDir: string): string {
  const file = join(dataDir, 'session-secret')
  try {
    if (existsSync(file)) return parseSessionSecret(readFileSync(file, 'utf8').trim())
    mkdirSync(dataDir, { recursive: true })
    const secret = randomBytes(32).toString('base64url')
    writeFileSync(file, secret + '\n', { mode: 0o600 })
    return secret
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError('DATA_DIR', `cannot keep the session secret in ${file}: ${(err as Error).message}`)
  }
}
