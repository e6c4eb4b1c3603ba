import { type ParseArgsConfig, parseArgs } from 'node:util'
import { type CommandConfig, ConfigError, loadCommandConfig } from './config.ts'
import type { DatabaseHandle } from './db/connect.ts'
import type { Role, Shift } from './db/database.ts'
import { resetPassword } from './domain/account.ts'
import { recordAudit } from './domain/audit.ts'
import { AppError } from './domain/errors.ts'
import { SHIFTS } from './domain/shifts.ts'
import { issueApiToken, tokenLabel } from './domain/tokens.ts'
import { ROLES, createUser, findUserByEmail, validatePassword } from './domain/users.ts'

/** Bad input: exit 2 with one line saying what is wrong. */
class UsageError extends Error {}

/** The user stopped the program at a prompt. */
class Interrupted extends Error {}

const HELP = `Sitrep admin command line: npm run sitrep -- <command> [options]

Commands:
  user:create --email E --name N --role R [--shift day|evening|night]
      Creates a user. Roles: ${ROLES.join(', ')}; a technician also needs --shift.
      The password comes from SITREP_PASSWORD, or else from standard input
      (one line; asked for without echo on a terminal).
  user:password --email E [--revoke-tokens]
      Sets a new password for that user and signs them out everywhere. The
      password comes as for user:create. Their API tokens keep working,
      unless --revoke-tokens.
  token:create --email E [--label L]
      Prints a new API token for that user, alone on one line; the label says
      what it is for (the monitoring script, say).
  demo:load [--force]
      Loads demo incidents and demo accounts, all with one published password.
      Only into a database without users of its own, unless --force.
  help
      Shows this help.

The database is the server's: DATABASE_URL, or else the embedded one in DATA_DIR
(stop the server first: the embedded database has room for one process only).
Exit status: 0 done, 2 bad input, 1 anything else.
`

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>

interface Command {
  options: NonNullable<ParseArgsConfig['options']>
  run: (values: Values, config: CommandConfig) => Promise<void>
}

const COMMANDS: Record<string, Command> = {
  'user:create': {
    options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, shift: { type: 'string' } },
    run: async (values, config) => {
      const email = required(values, 'email')
      const name = required(values, 'name')
      const role = required(values, 'role') as Role
      const shift = values.shift as Shift | undefined
      // Checked before the password is asked for, so no one types it in vain.
      if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')} (got "${role}")`)
      if (shift !== undefined && !SHIFTS.includes(shift)) throw new UsageError(`--shift must be one of ${SHIFTS.join(', ')} (got "${shift}")`)
      if (role === 'technician' && shift === undefined) throw new UsageError('a technician needs --shift day, evening or night')
      if (role !== 'technician' && shift !== undefined) throw new UsageError('only technicians have a shift: leave out --shift')
      const password = await readPassword()
      await withDatabase(config, async ({ db }) => {
        const user = await db.transaction().execute(async (trx) => {
          const created = await createUser(trx, { email, name, role, shift: shift ?? null, password })
          await recordAudit(trx, null, { action: 'user.create', targetUserId: created.id, after: { role: created.role, shift: created.shift } })
          return created
        })
        const shiftNote = user.shift === null ? '' : `, ${user.shift} shift`
        process.stdout.write(`created ${user.role} ${user.name} <${user.email}> (id ${user.id}${shiftNote})\n`)
      })
    }
  },

  'user:password': {
    options: { email: { type: 'string' }, 'revoke-tokens': { type: 'boolean' } },
    run: async (values, config) => {
      const email = required(values, 'email')
      const password = await readPassword()
      // A password that could not be used is refused before the database opens.
      validatePassword(password)
      await withDatabase(config, async ({ db }) => {
        const found = await findUserByEmail(db, email)
        if (found === undefined) throw new UsageError(`no user with the e-mail address ${email}`)
        const revokeTokens = values['revoke-tokens'] === true
        const { revokedTokens } = await resetPassword(db, found.id, password, { now: new Date(), revokeTokens })
        const tokens = revokeTokens ? `, ${revokedTokens} API token(s) revoked` : ''
        process.stdout.write(`changed the password of ${found.name} <${found.email}>: signed out everywhere${tokens}\n`)
      })
    }
  },

  'token:create': {
    options: { email: { type: 'string' }, label: { type: 'string' } },
    run: async (values, config) => {
      const email = required(values, 'email')
      const label = tokenLabel(typeof values.label === 'string' ? values.label : null)
      await withDatabase(config, async ({ db }) => {
        const user = await findUserByEmail(db, email)
        if (user === undefined) throw new UsageError(`no user with the e-mail address ${email}`)
        const token = await db.transaction().execute(async (trx) => {
          const { id, token } = await issueApiToken(trx, user.id, label)
          await recordAudit(trx, null, { action: 'token.create', targetUserId: user.id, after: { tokenId: id, label } })
          return token
        })
        process.stdout.write(`${token}\n`)
      })
    }
  },

  'demo:load': {
    options: { force: { type: 'boolean' } },
    run: async (values, config) => {
      const { DEMO_PASSWORD, loadDemo } = await import('./demo.ts')
      await withDatabase(config, async ({ db }) => {
        const result = await loadDemo(db, { timeZone: config.tzDisplay, force: values.force === true })
        if (result.reason === 'already_loaded') {
          process.stdout.write(`The demo is already loaded: nothing to do. Sign in on ${config.publicUrl}/login with the demo accounts (password "${DEMO_PASSWORD}").\n`)
          return
        }
        if (result.reason === 'not_empty') {
          throw new UsageError('this database already has users of its own; the demo accounts share a published password, so they go only into a fresh database (use another DATA_DIR or DATABASE_URL, or --force)')
        }
        const lines = [
          'Demo loaded:',
          ...result.threads.map((thread) => `  ${config.publicUrl}/t/${thread.id}  ${thread.title}`),
          '',
          `DEMO ACCOUNTS, for trying Sitrep only. Every one has the password "${DEMO_PASSWORD}":`,
          ...result.accounts.map((a) => `  ${a.email.padEnd(26)} ${a.role}${a.shift === null ? '' : ` (${a.shift} shift)`}, ${a.name}`),
          '',
          'Start the server with npm start and open the first link.',
          ''
        ]
        process.stdout.write(lines.join('\n'))
      })
    }
  }
}

function required (values: Values, flag: string): string {
  const value = values[flag]
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`missing --${flag}`)
  return value
}

// The database drivers load only here, so help and bad input answer at once.
async function withDatabase (config: CommandConfig, work: (database: DatabaseHandle) => Promise<void>): Promise<void> {
  const { connectDatabase } = await import('./db/connect.ts')
  const { migrateToLatest } = await import('./db/migrate.ts')
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 })
  try {
    const { newer } = await database.unhurried(migrateToLatest)
    if (newer.length > 0) process.stderr.write(`sitrep: the database holds migrations of a later release (${newer.join(', ')}); this one runs without them\n`)
    await work(database)
  } finally {
    await database.close()
  }
}

/** SITREP_PASSWORD, else one line of standard input, asked for without echo on a terminal. */
async function readPassword (): Promise<string> {
  // A secret file loaded into the environment ends with a newline, as a line of standard input does: neither is the password's.
  const fromEnv = process.env.SITREP_PASSWORD?.replace(/\r?\n$/, '')
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (process.stdin.isTTY) {
    const first = await promptHidden('Password: ')
    const again = await promptHidden('Password again: ')
    if (first !== again) throw new UsageError('the two passwords differ')
    return first
  }
  const line = await readLine(process.stdin)
  if (line === '') throw new UsageError('no password: set SITREP_PASSWORD or write it on standard input')
  return line
}

function readLine (stream: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const finish = () => {
      stream.removeListener('data', onData)
      stream.removeListener('end', finish)
      stream.removeListener('error', finish)
      stream.pause()
      resolve(text.split('\n')[0]!.replace(/\r$/, ''))
    }
    const onData = (chunk: string) => {
      text += chunk
      if (text.includes('\n')) finish()
    }
    stream.setEncoding('utf8')
    stream.on('data', onData)
    stream.once('end', finish)
    stream.once('error', finish)
  })
}

function promptHidden (prompt: string): Promise<string> {
  const stdin = process.stdin
  return new Promise((resolve, reject) => {
    let value = ''
    const done = (result: Error | null) => {
      stdin.removeListener('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (result === null) resolve(value)
      else reject(result)
    }
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done(null)
        if (char === '\u0003') return done(new Interrupted())
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('')
        else value += char
      }
    }
    process.stderr.write(prompt)
    stdin.setEncoding('utf8')
    stdin.setRawMode(true)
    stdin.on('data', onData)
    stdin.resume()
  })
}

/** One line for any failure, whatever shape the error has. */
function describe (err: unknown): string {
  if (err instanceof AggregateError && err.message === '') return describe(err.errors[0])
  if (err instanceof Error) return (err.message || (err as NodeJS.ErrnoException).code || err.name).split('\n')[0]!
  return String(err)
}

async function main (argv: string[]): Promise<number> {
  const [name, ...args] = argv
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP)
    return 0
  }
  if (name === undefined) throw new UsageError('no command given (see: npm run sitrep -- help)')
  const command = COMMANDS[name]
  if (command === undefined) throw new UsageError(`unknown command "${name}" (see: npm run sitrep -- help)`)
  let parsed
  try {
    parsed = parseArgs({ args, options: command.options, strict: true, allowPositionals: false, tokens: true })
  } catch (err) {
    // parseArgs explains itself in sentences; the first one is the reason.
    throw new UsageError(`${name}: ${describe(err).split('. ')[0]!}`)
  }
  // parseArgs keeps the last of an option given twice: which one was meant is for the person to say.
  const given = new Set<string>()
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue
    if (given.has(token.name)) throw new UsageError(`${name}: option '--${token.name}' is given twice`)
    given.add(token.name)
  }
  const values = parsed.values
  await command.run(values, loadCommandConfig())
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof Interrupted) process.exit(130)
    const badInput = err instanceof UsageError || err instanceof ConfigError || (err instanceof AppError && err.statusCode < 500)
    process.stderr.write(`sitrep: ${describe(err)}\n`)
    process.exit(badInput ? 2 : 1)
  }
)
