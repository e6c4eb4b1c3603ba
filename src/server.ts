import pino from 'pino'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { startHashing } from './domain/passwords.ts'
import { countUsers } from './domain/users.ts'

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
  const app = await buildApp(config, { logger })

  const shutdown = async (signal: string) => {
    app.log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => process.exit(1), 10_000).unref()
    await app.close()
    clearTimeout(timer)
    process.exit(0)
  }
  process.once('SIGINT', () => void shutdown('SIGINT'))
  process.once('SIGTERM', () => void shutdown('SIGTERM'))

  // Started before readers come: not in the middle of a sign-in flood.
  startHashing().catch((err: unknown) => app.log.warn({ err }, 'could not start the password-hashing process; the first sign-in tries again'))
  await app.listen({ host: config.host, port: config.port })
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
