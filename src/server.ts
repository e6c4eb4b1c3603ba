import pino from 'pino'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { waitForDatabase } from './db/connect.ts'
import { startHashing } from './domain/passwords.ts'
import { countUsers } from './domain/users.ts'

const WAIT_NOTICE_EVERY_MS = 30_000

/** What went wrong, in a word: a host with several addresses fails with an error per address, and an empty message. */
const reasonOf = (err: Error): string =>
  err.message !== '' ? err.message : err instanceof AggregateError ? err.errors.map((e: Error) => e.message).join('; ') : String((err as { code?: unknown }).code ?? err.name)

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.token']

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
  if (config.databaseUrl !== undefined) {
    let saidAt = -Infinity
    await waitForDatabase(config.databaseUrl, (err, waitedMs) => {
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
  await app.listen({ host: config.host, port: config.port }).catch((err: NodeJS.ErrnoException) => {
    // Said as the variable to change.
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES') throw new Error(`PORT: cannot listen on port ${config.port} (${err.code === 'EACCES' ? 'not allowed' : 'in use'})`)
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') throw new Error(`HOST: cannot listen on ${config.host} (${err.code})`)
    throw err
  })
  const where = config.databaseUrl === undefined ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL at DATABASE_URL'
  app.log.info(`Sitrep is serving ${config.publicUrl} on ${where}`)
  if (await countUsers(app.db) === 0) {
    process.stdout.write([
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
