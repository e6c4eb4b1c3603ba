import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const SECRET = 'a-session-secret-of-at-least-32-characters'

t.test('defaults need nothing but a place for the data', async (t) => {
  const dataDir = t.testdir()
  const config = loadConfig({ DATA_DIR: dataDir })
  t.match(config, {
    host: '127.0.0.1',
    port: 3000,
    databaseUrl: undefined,
    dataDir: resolve(dataDir),
    logLevel: 'info',
    publicUrl: 'http://127.0.0.1:3000',
    smtpUrl: undefined,
    mailFrom: 'Sitrep <sitrep@127.0.0.1>',
    tzDisplay: 'UTC'
  })
  t.ok(config.sessionSecret.length >= 32, 'a session secret is generated')
  t.ok(existsSync(join(dataDir, 'session-secret')), 'and kept in DATA_DIR')
  t.equal(loadConfig({ DATA_DIR: dataDir }).sessionSecret, config.sessionSecret, 'the next start finds the same secret')
  t.equal(loadConfig({ SESSION_SECRET: SECRET }).dataDir, resolve('./data'), 'DATA_DIR defaults to ./data')
})

t.test('every variable is read', async (t) => {
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '8080',
    DATABASE_URL: 'postgres://sitrep@db.internal:5432/sitrep',
    DATABASE_REPLICA_URLS: 'postgres://sitrep@replica-1.internal/sitrep, postgresql://sitrep@replica-2.internal:6432/sitrep',
    DATA_DIR: '/var/lib/sitrep',
    SESSION_SECRET: SECRET,
    LOG_LEVEL: 'WARN',
    PUBLIC_URL: 'https://status.example.org/',
    SMTP_URL: 'smtp://mail.example.org:587',
    MAIL_FROM: ' Status desk <status@example.org> ',
    TZ_DISPLAY: 'Europe/Paris',
    TRUST_PROXY: '10.0.0.5, 10.1.0.0/16,loopback,fd00::/8'
  })
  t.match(config, {
    host: '0.0.0.0',
    port: 8080,
    databaseUrl: 'postgres://sitrep@db.internal:5432/sitrep',
    databaseReplicaUrls: ['postgres://sitrep@replica-1.internal/sitrep', 'postgresql://sitrep@replica-2.internal:6432/sitrep'],
    dataDir: '/var/lib/sitrep',
    sessionSecret: SECRET,
    logLevel: 'warn',
    publicUrl: 'https://status.example.org',
    smtpUrl: 'smtp://mail.example.org:587',
    mailFrom: 'Status desk <status@example.org>',
    tzDisplay: 'Europe/Paris',
    trustProxy: ['10.0.0.5', '10.1.0.0/16', 'loopback', 'fd00::/8']
  })
  t.equal(loadConfig({ SESSION_SECRET: SECRET, PUBLIC_URL: 'https://status.example.org' }).mailFrom, 'Sitrep <sitrep@status.example.org>', 'e-mail comes from the public host unless MAIL_FROM names a sender')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, MAIL_FROM: 'astreinte@example.fr' }).mailFrom, 'astreinte@example.fr', 'a bare address will do')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, MAIL_FROM: '"Équipe, nuit" <nuit@example.fr>' }).mailFrom, '"Équipe, nuit" <nuit@example.fr>', 'a quoted name may hold a comma')
  t.equal(loadConfig({ SESSION_SECRET: SECRET }).trustProxy, undefined, 'no proxy is believed unless named')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, DATABASE_URL: 'postgresql://localhost/sitrep' }).databaseUrl, 'postgresql://localhost/sitrep')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, DATABASE_URL: 'postgres:///sitrep?host=/run/postgresql' }).databaseUrl, 'postgres:///sitrep?host=/run/postgresql', 'a database on the local Unix socket')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, SMTP_URL: 'smtp://desk%40corp:p%40ss@mail.example.org:587' }).smtpUrl, 'smtp://desk%40corp:p%40ss@mail.example.org:587', 'a user and password %-encoded')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, HOST: '0.0.0.0', PORT: '4000' }).publicUrl, 'http://127.0.0.1:4000', 'a wildcard host is shown as the loopback address')
  t.equal(loadConfig({ SESSION_SECRET: SECRET, DATABASE_URL: '' }).databaseUrl, undefined, 'an empty value counts as unset')
  t.same(loadConfig({ SESSION_SECRET: SECRET, DATABASE_URL: 'postgres://localhost/sitrep' }).databaseReplicaUrls, [], 'no replicas unless named')
})

t.test('a bad value stops with a message naming its variable', async (t) => {
  const bad: Record<string, string>[] = [
    { HOST: 'not a host!' },
    { HOST: 'http://example.org' },
    { HOST: '-leading-dash' },
    { HOST: '999.999.1.1' },
    { HOST: '10.0.0' },
    { PORT: 'abc' },
    { PORT: '70000' },
    { PORT: '80.5' },
    { PORT: '1e3' },
    { PORT: '0x0F5F' },
    { DATABASE_URL: 'mysql://x' },
    { DATABASE_URL: 'not a url' },
    { DATABASE_URL: 'postgres:sitrep' },
    { DATABASE_REPLICA_URLS: 'postgres://replica.internal/sitrep' },
    { DATABASE_REPLICA_URLS: 'postgres://replica.internal/sitrep,mysql://x', DATABASE_URL: 'postgres://db.internal/sitrep' },
    { DATABASE_REPLICA_URLS: 'replica.internal', DATABASE_URL: 'postgres://db.internal/sitrep' },
    { DATABASE_REPLICA_URLS: ' , ,', DATABASE_URL: 'postgres://db.internal/sitrep' },
    { LOG_LEVEL: 'loud' },
    { TZ_DISPLAY: 'Mars/Base' },
    { PUBLIC_URL: 'ftp://x' },
    { PUBLIC_URL: 'status page' },
    { SMTP_URL: 'http://mail.example.org' },
    { SMTP_URL: 'smtp://' },
    { SMTP_URL: 'smtp:garbage' },
    { SMTP_URL: 'smtp://user:p%ZZ@mail.example.org:587' },
    { PUBLIC_URL: 'https://example.org/status' },
    { LIVE_SOCKETS_PER_IP: '1e2' },
    { MAIL_FROM: 'Status desk' },
    { MAIL_FROM: 'Desk <desk>' },
    { MAIL_FROM: 'a@example.org, b@example.org' },
    { MAIL_FROM: 'Staff: a@example.org;' },
    { SESSION_SECRET: 'short' },
    { TRUST_PROXY: 'true' },
    { TRUST_PROXY: '2' },
    { TRUST_PROXY: '10.0.0.0/33' },
    { TRUST_PROXY: 'proxy.internal' }
  ]
  for (const env of bad) {
    const [variable, value] = Object.entries(env)[0]!
    t.throws(() => loadConfig({ SESSION_SECRET: SECRET, ...env }), ConfigError, `${variable}=${value} is refused`)
    try {
      loadConfig({ SESSION_SECRET: SECRET, ...env })
    } catch (err) {
      t.match((err as Error).message, new RegExp(`^${variable}: `), `the message names ${variable}`)
      t.notMatch((err as Error).message, /\n/, 'in one line')
    }
  }
})

t.test('the server does not start on a bad value, and says why in one line', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sitrep-config-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: 'abc', DATA_DIR: dataDir, SESSION_SECRET: SECRET }
  delete env.DATABASE_URL
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  t.equal(code, 2, 'exits with status 2')
  t.equal(stdout, '', 'prints nothing else')
  t.match(stderr, /^[^\n]*PORT[^\n]*\n$/, 'one line on standard error, naming PORT')
})
