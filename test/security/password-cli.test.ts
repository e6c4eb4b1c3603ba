import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { type Run, runCli } from '../helpers/cli.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { type Cookies, signIn } from '../helpers/pages.ts'
import { NOT_SHEDDING, type TestUser } from '../helpers/app.ts'

const SESSION_SECRET = 'password-cli-test-secret-long-enough-for-hmac'
const OLD = 'correct horse battery staple'
const NEW = 'a fresh passphrase set by the admin'

const database = await createTestDatabase()
const dataDir = mkdtempSync(join(tmpdir(), 'sitrep-password-cli-'))
t.teardown(async () => {
  await database.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

/** `npm run sitrep -- ...args`, on the test's database. */
function sitrep (args: string[], options: { input?: string, password?: string } = {}): Promise<Run> {
  return runCli({ dataDir, databaseUrl: database.databaseUrl }, args, {
    input: options.input,
    ...(options.password !== undefined && { env: { SITREP_PASSWORD: options.password } })
  })
}

/** The app on the same database, open only while the command line is not (the embedded database takes one process). */
async function withApp (work: (app: FastifyInstance) => Promise<void>): Promise<void> {
  const app = await buildApp({ ...loadConfig({ SESSION_SECRET, DATA_DIR: dataDir }), databaseUrl: database.databaseUrl }, NOT_SHEDDING)
  try {
    await work(app)
  } finally {
    await app.close()
  }
}

const askToken = (app: FastifyInstance, password: string) =>
  app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'ines@example.org', password } })
const me = (app: FastifyInstance, request: { cookies?: Cookies, token?: string }) =>
  app.inject({ url: '/api/v1/me', ...(request.cookies !== undefined && { cookies: request.cookies }), ...(request.token !== undefined && { headers: { authorization: `Bearer ${request.token}` } }) })

t.test('user:password sets a new password and signs the user out everywhere; tokens stay unless asked', async (t) => {
  const created = await sitrep(['user:create', '--email', 'ines@example.org', '--name', 'Inès Laurent', '--role', 'technician', '--shift', 'day'], { password: OLD })
  t.equal(created.code, 0, 'the user is made', { stderr: created.stderr })
  const token = (await sitrep(['token:create', '--email', 'ines@example.org'])).stdout.trim()
  let session: Cookies = {}
  await withApp(async (app) => {
    const user = (await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).json()
    session = await signIn(app, { actor: user, token, auth: { authorization: `Bearer ${token}` } } satisfies TestUser)
    t.equal((await me(app, { cookies: session })).statusCode, 200, 'signed in in a browser')
  })

  const changed = await sitrep(['user:password', '--email', 'INES@example.org'], { password: NEW })
  t.equal(changed.code, 0, 'exits with status 0', { stderr: changed.stderr })
  t.equal(changed.stdout, 'changed the password of Inès Laurent <ines@example.org>: signed out everywhere\n')

  let second = ''
  await withApp(async (app) => {
    t.equal((await me(app, { cookies: session })).statusCode, 401, 'the browser is signed out')
    t.equal((await me(app, { token })).statusCode, 200, 'the API token still works')
    t.equal((await askToken(app, OLD)).statusCode, 401, 'the old password no longer signs in')
    const res = await askToken(app, NEW)
    t.equal(res.statusCode, 201, 'the new one does')
    second = res.json().token
  })

  const revoked = await sitrep(['user:password', '--email', 'ines@example.org', '--revoke-tokens'], { input: 'typed on standard input\n' })
  t.equal(revoked.code, 0, { stderr: revoked.stderr })
  t.match(revoked.stdout, /signed out everywhere, 2 API token\(s\) revoked\n$/)
  await withApp(async (app) => {
    t.equal((await me(app, { token })).statusCode, 401, 'with --revoke-tokens, the tokens stop')
    t.equal((await me(app, { token: second })).statusCode, 401, 'every one of them')
    t.equal((await askToken(app, 'typed on standard input')).statusCode, 201, 'the password read from standard input signs in')
  })
})

t.test('user:password refuses bad input with status 2 and one line', async (t) => {
  const cases: Array<[string[], { password?: string, input?: string }, RegExp]> = [
    [['user:password'], { password: NEW }, /missing --email/],
    [['user:password', '--email', 'nobody@example.org'], { password: NEW }, /no user with the e-mail address nobody@example\.org/],
    [['user:password', '--email', 'ines@example.org'], { password: 'short' }, /at least 8 characters/],
    [['user:password', '--email', 'ines@example.org'], { input: '' }, /no password/],
    [['user:password', '--email', 'ines@example.org', '--force'], { password: NEW }, /--force/]
  ]
  for (const [args, input, reason] of cases) {
    const run = await sitrep(args, input)
    t.equal(run.code, 2, `${args.join(' ')}: status 2`, { stderr: run.stderr })
    t.equal(run.stdout, '', 'nothing on standard output')
    t.match(run.stderr, /^sitrep: [^\n]+\n$/, 'one line on standard error')
    t.match(run.stderr, reason)
  }
})

t.test("the operator's commands are in the audit log, as the command line's", async (t) => {
  const admin = await sitrep(['user:create', '--email', 'aude@example.org', '--name', 'Aude Admin', '--role', 'admin'], { password: OLD })
  t.equal(admin.code, 0, { stderr: admin.stderr })
  await withApp(async (app) => {
    const token = (await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'aude@example.org', password: OLD } })).json().token
    const ines = (await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${(await askToken(app, 'typed on standard input')).json().token}` } })).json()
    const audit = (await app.inject({ url: '/api/v1/audit', headers: { authorization: `Bearer ${token}` } })).json().audit as Array<{ actor: unknown, action: string, targetUserId: number, after: unknown }>
    const byOperator = audit.filter((row) => row.actor === null).reverse()
    t.same(byOperator.map((row) => row.action), ['user.create', 'token.create', 'user.password', 'user.password', 'user.create'], 'every command, in order')
    t.same(byOperator.slice(0, 4).map((row) => row.targetUserId), [ines.id, ines.id, ines.id, ines.id], 'on whom')
    t.same(byOperator[0]!.after, { role: 'technician', shift: 'day' })
    t.same(byOperator.slice(2, 4).map((row) => row.after), [{ revokedTokens: 0 }, { revokedTokens: 2 }], 'with the tokens revoked')

    const auth = { authorization: `Bearer ${token}` }
    const aude = (await app.inject({ url: '/api/v1/me', headers: auth })).json()
    const page = await app.inject({ url: '/mod/audit', cookies: await signIn(app, { actor: aude, token, auth } satisfies TestUser) })
    t.equal(page.statusCode, 200)
    t.match(page.body, /<td>The server’s operator \(command line\)<\/td>\s*<td title="user\.create">Account created<\/td>/, 'the audit page names the command line as the actor, and what it did')
  })
})
