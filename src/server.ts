import { createServer } from 'node:http'
import pino from 'pino'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { waitForDatabase } from './db/connect.ts'
import { DATABASE_RETRY_AFTER, databaseUnavailable } from './domain/errors.ts'
import { startHashing } from './domain/passwords.ts'
import { countUsers } from './domain/users.ts'
import { fromAcceptLanguage, translate } from './web/i18n.ts'

const WAIT_NOTICE_EVERY_MS = 30_000

/** What went wrong, in a word: a host with several addresses fails with an error per address, and an empty message. */
const reasonOf = (err: Error): string =>
  err.message !== '' ? err.message : err instanceof AggregateError ? err.errors.map((e: Error) => e.message).join('; ') : String((err as { code?: unknown }).code ?? err.name)

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.token']

/**
 * While the instance waits for a database it cannot reach it is up
 * (`/healthz`: a liveness probe must not take it for dead and restart it,
 * again and again, through the outage) but not ready (`/readyz`), and any
 * other request is told, in its reader's language, to come back. Returns what
 * closes it, once the app takes over.
 */
async function answerWhileWaiting (host: string, port: number): Promise<() => Promise<void>> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
      response.end(JSON.stringify({ status: 'ok' }))
      return
    }
    const message = translate(fromAcceptLanguage(request.headers['accept-language']), 'errors.database_unavailable')
    const json = path === '/readyz' || path.startsWith('/api/') || !(request.headers.accept ?? '').includes('text/html')
    response.writeHead(503, {
      'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
      'retry-after': String(DATABASE_RETRY_AFTER),
      'cache-control': 'no-store'
    })
    response.end(json ? JSON.stringify({ error: { code: databaseUnavailable().code, message } }) : `${message}\n`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sitrep: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const logger = pino({ level: config.logLevel, redact: REDACT })
  // Told to stop before it serves (while it waits for its database, say): there is nothing to close yet.
  let stop = async (signal: string) => {
    logger.info({ signal }, 'stopped before serving')
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))

  // Started while the database is away (the machines coming back after an
  // outage, in any order), the instance waits for it instead of exiting.
  let waiting: Promise<(() => Promise<void>) | null> | undefined
  if (config.databaseUrl !== undefined) {
    let saidAt = -Infinity
    await waitForDatabase(config.databaseUrl, (err, waitedMs) => {
      // Only while the database cannot be reached: starting otherwise, a
      // connection refused sends a load balancer's request on to another
      // instance, where a 503 would go back to the reader. A port it cannot
      // have is said when the app listens on it.
      waiting ??= answerWhileWaiting(config.host, config.port).catch(() => null)
      if (waitedMs - saidAt < WAIT_NOTICE_EVERY_MS) return
      saidAt = waitedMs
      logger.warn({ reason: reasonOf(err), waitedSeconds: Math.round(waitedMs / 1000) }, 'the database cannot be reached yet; waiting for it')
    })
  }
  const app = await buildApp(config, { logger })

  stop = async (signal: string) => {
    app.log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => process.exit(1), 10_000).unref()
    await app.close()
    clearTimeout(timer)
    process.exit(0)
  }

  // Started before readers come: not in the middle of a sign-in flood.
  startHashing().catch((err: unknown) => app.log.warn({ err }, 'could not start the password-hashing process; the first sign-in tries again'))
  // Handed over to the app: closed just before it listens on the same port.
  await (await waiting)?.()
  await app.listen({ host: config.host, port: config.port }).catch((err: NodeJS.ErrnoException) => {
    // Said as the variable to change.
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES') throw new Error(`PORT: cannot listen on port ${config.port} (${err.code === 'EACCES' ? 'not allowed' : 'in use'})`)
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') throw new Error(`HOST: cannot listen on ${config.host} (${err.code})`)
    throw err
  })
  const where = config.databaseUrl === undefined ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL at DATABASE_URL'
  app.log.info(`Sitrep is serving ${config.publicUrl} on ${where}`)
  // For the person at the terminal, on standard error: standard output is the JSON log lines.
  if (await countUsers(app.db) === 0) {
    process.stderr.write([
      '',
      'No user yet. Create the first admin with:',
      '  npm run sitrep -- user:create --email you@example.org --name "Your Name" --role admin',
      '(it asks for the password; or set SITREP_PASSWORD). Or load a demo incident: npm run demo',
      ''
    ].join('\n'))
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`sitrep: could not start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
