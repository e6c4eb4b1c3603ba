import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { LOCK_FILE } from '../src/db/connect.ts'
import { DEMO_PASSWORD } from '../src/demo.ts'
import { NOT_SHEDDING } from './helpers/app.ts'
import { type Run, runCli } from './helpers/cli.ts'
import { createTestDatabase } from './helpers/database.ts'

const SESSION_SECRET = 'cli-test-secret-that-is-long-enough-for-hmac'

/**
 * A fresh database for the command line and for the app that checks its work:
 * a new database on the server of DATABASE_URL, else an embedded one on disk.
 */
async function freshPlace (t: Test) {
  const database = await createTestDatabase()
  const dataDir = mkdtempSync(join(tmpdir(), 'sitrep-cli-'))
  t.teardown(async () => {
    await database.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /** Runs `npm run sitrep -- ...args` the way npm does, without npm. */
  const sitrep = (args: string[], options: { input?: string, env?: Record<string, string> } = {}): Promise<Run> =>
    runCli({ dataDir, databaseUrl: database.databaseUrl }, args, options)

  /** The app on the same database, opened only while the command line is not running. */
  const withApp = async (work: (app: FastifyInstance) => Promise<void>): Promise<void> => {
    const config = { ...loadConfig({ SESSION_SECRET, DATA_DIR: dataDir }), databaseUrl: database.databaseUrl }
    const app = await buildApp(config, NOT_SHEDDING)
    try {
      await work(app)
    } finally {
      await app.close()
    }
  }

  return { sitrep, withApp, dataDir }
}

/** Bad input: status 2, nothing on standard output, one line on standard error. */
function assertRefused (t: Test, args: string[], run: Run, reason: RegExp): void {
  const command = `sitrep ${args.join(' ')}`.trim()
  t.equal(run.code, 2, `${command}: exits with status 2`, { stderr: run.stderr })
  t.equal(run.stdout, '', `${command}: prints nothing on standard output`)
  t.match(run.stderr, /^sitrep: [^\n]+\n$/, `${command}: says why in one line`)
  t.match(run.stderr, reason, `${command}: the reason is ${reason.source}`)
}

// The two parts use databases of their own and run side by side.
t.jobs = 2

t.test('the admin command line', async (t) => {
  const { sitrep, withApp, dataDir } = await freshPlace(t)

  t.test('help lists the commands', async (t) => {
    const run = await sitrep(['help'])
    t.equal(run.code, 0)
    for (const command of ['user:create', 'token:create', 'demo:load']) t.match(run.stdout, command)
  })

  t.test('user:create makes a technician, and token:create a token that works', async (t) => {
    const created = await sitrep(
      ['user:create', '--email', 'nadia@example.org', '--name', 'Nadia Benali', '--role', 'technician', '--shift', 'night'],
      // As a secret file loaded into the environment gives it: with its newline.
      { env: { SITREP_PASSWORD: 'a long night shift password\n' } }
    )
    t.equal(created.code, 0, 'exits with status 0', { stderr: created.stderr })
    t.match(created.stdout, /technician Nadia Benali <nadia@example.org>/)
    t.notOk(existsSync(join(dataDir, 'session-secret')), 'without SESSION_SECRET, it keeps no secret of its own in DATA_DIR: it signs nothing')

    const issued = await sitrep(['token:create', '--email', 'NADIA@example.org', '--label', 'Paging script'])
    t.equal(issued.code, 0, 'exits with status 0', { stderr: issued.stderr })
    t.match(issued.stdout, /^sitrep_\S+\n$/, 'prints the token alone on one line')
    const token = issued.stdout.trim()

    await withApp(async (app) => {
      const auth = { authorization: `Bearer ${token}` }
      const me = await app.inject({ url: '/api/v1/me', headers: auth })
      t.equal(me.statusCode, 200, me.body)
      t.match(me.json(), { email: 'nadia@example.org', role: 'technician', shift: 'night' })
      const opened = await app.inject({ method: 'POST', url: '/api/v1/threads', headers: auth, payload: { title: 'Fire in DC-2', body: 'Smoke in room 3.' } })
      t.equal(opened.statusCode, 201, 'the token opens an incident')
      const signIn = await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'nadia@example.org', password: 'a long night shift password' } })
      t.equal(signIn.statusCode, 201, 'the password from SITREP_PASSWORD signs in, without its newline')
      const kept = await app.db.selectFrom('api_tokens').innerJoin('users', 'users.id', 'api_tokens.user_id').select('label').where('users.email', '=', 'nadia@example.org').orderBy('api_tokens.id').executeTakeFirstOrThrow()
      t.equal(kept.label, 'Paging script', 'the token says what it is for')
    })
  })

  t.test('the password can come from standard input', async (t) => {
    const created = await sitrep(['user:create', '--email', 'sophie@example.org', '--name', 'Sophie Martin', '--role', 'customer'], { input: 'typed on stdin\n' })
    t.equal(created.code, 0, 'exits with status 0', { stderr: created.stderr })
    await withApp(async (app) => {
      const signIn = await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'sophie@example.org', password: 'typed on stdin' } })
      t.equal(signIn.statusCode, 201, 'the line read signs in, without its newline')
    })
  })

  t.test('bad input exits with status 2 and one line', async (t) => {
    const user = (extra: string[]) => ['user:create', '--email', 'new@example.org', '--name', 'New', ...extra]
    const withPassword = { env: { SITREP_PASSWORD: 'long enough password' } }
    // Refused before the database is opened, so they can run side by side.
    const early: [string[], RegExp, Record<string, string>?][] = [
      [user(['--role', 'boss']), /role/],
      [user(['--role', 'technician']), /shift/],
      [user(['--role', 'technician', '--shift', 'lunch']), /shift/],
      [user(['--role', 'customer', '--shift', 'day']), /shift/],
      [['user:create', '--name', 'No Mail', '--role', 'admin'], /--email/],
      [user(['--role', 'admin']), /password/, {}],
      [['token:create', '--mail', 'nadia@example.org'], /--mail/],
      [['token:create', '--email', 'nadia@example.org', '--email', 'boss@example.org'], /option '--email' is given twice/],
      [user(['--role', 'customer', '--role', 'admin']), /option '--role' is given twice/],
      [['token:create', '--email', 'nadia@example.org', '--label', 'z'.repeat(101)], /at most 100 characters/],
      [['user:delete'], /unknown command/],
      [[], /no command/],
      [['token:create', '--email', 'nadia@example.org'], /PORT/, { PORT: 'abc' }]
    ]
    const runs = await Promise.all(early.map(([args, , env]) => sitrep(args, { env: env ?? withPassword.env })))
    runs.forEach((run, i) => assertRefused(t, early[i]![0], run, early[i]![1]))
    // These need the database: one at a time, as the embedded one takes one process.
    const late: [string[], RegExp, Record<string, string>][] = [
      [['user:create', '--email', 'nadia@example.org', '--name', 'Again', '--role', 'admin'], /already exists/, withPassword.env],
      [user(['--role', 'admin']), /at least 8 characters/, { SITREP_PASSWORD: 'short' }],
      [['token:create', '--email', 'nobody@example.org'], /no user/, {}]
    ]
    for (const [args, reason, env] of late) assertRefused(t, args, await sitrep(args, { env }), reason)
  })

  t.test('the command line does not open an embedded database in use', async (t) => {
    // This very process stands for a running server holding the lock.
    writeFileSync(join(dataDir, LOCK_FILE), `${process.pid}\n`)
    t.teardown(() => rmSync(join(dataDir, LOCK_FILE), { force: true }))
    const run = await sitrep(['token:create', '--email', 'nadia@example.org'], { env: { DATABASE_URL: '' } })
    t.equal(run.code, 1)
    t.equal(run.stderr, `sitrep: the embedded database in ${dataDir} is in use by process ${process.pid} (stop the server first, or set DATABASE_URL)\n`)
  })

  t.test('the demo stays out of a forum that has users of its own', async (t) => {
    assertRefused(t, ['demo:load'], await sitrep(['demo:load']), /fresh database/)
  })
})

t.test('the demo loads a live incident and a resolved one, once', async (t) => {
  const { sitrep, withApp } = await freshPlace(t)
  const loaded = await sitrep(['demo:load'])
  t.equal(loaded.code, 0, 'exits with status 0', { stderr: loaded.stderr })
  t.match(loaded.stdout, /DEMO ACCOUNTS/)
  t.match(loaded.stdout, 'admin@demo.sitrep')
  t.match(loaded.stdout, DEMO_PASSWORD)

  const again = await sitrep(['demo:load'])
  t.equal(again.code, 0, 'a second run exits with status 0 too', { stderr: again.stderr })
  t.match(again.stdout, /already loaded/)

  await withApp(async (app) => {
    const { threads } = (await app.inject({ url: '/api/v1/threads' })).json()
    t.equal(threads.length, 2, 'two incidents, not four')
    const [fire, mail] = threads
    t.match(fire.title, /fire/i, 'the open incident comes first')
    t.equal(fire.status, 'monitoring')
    t.not(fire.pinnedPostId, null, 'the current state is pinned')
    t.ok(Date.parse(fire.nextUpdateAt) > Date.now(), 'the next update is due in the future')
    t.ok(Date.now() - Date.parse(fire.lastPostAt) < 60 * 60_000, 'the last post is recent')
    t.ok(Date.now() - Date.parse(fire.createdAt) > 12 * 60 * 60_000, 'the incident has gone on for hours')
    t.equal(mail.status, 'resolved')
    t.equal(mail.locked, true)

    const { posts } = (await app.inject({ url: `/api/v1/threads/${fire.id}/posts` })).json()
    const official = posts.filter((p: { kind: string }) => p.kind !== 'comment')
    t.same(new Set(official.map((p: { shift: string }) => p.shift)), new Set(['day', 'evening', 'night']), 'every shift posted updates')
    t.ok(posts.some((p: { kind: string }) => p.kind === 'handover'), 'shifts hand over')
    t.ok(posts.some((p: { author: { role: string } }) => p.author.role === 'customer'), 'customers ask')
    t.ok(posts.some((p: { replyTo: number | null }) => p.replyTo !== null), 'and get replies')
    t.same(posts.map((p: { status: string | null }) => p.status).filter(Boolean), ['investigating', 'identified', 'monitoring'])
    t.notOk(posts.some((p: { body: string }) => /Next update by/.test(p.body)), 'no promise written in a post\'s text, in one time zone')
    t.ok(official.every((p: { nextUpdateAt: string | null }) => p.nextUpdateAt !== null), 'each official update promises the next as the forum does, shown in each reader\'s zone')
    const gaps = official.slice(1).map((p: { createdAt: string }, i: number) => Date.parse(p.createdAt) - Date.parse(official[i].createdAt))
    t.ok(Math.max(...gaps) <= 60 * 60_000, 'an official update at least every hour')

    const signIn = await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'moderator@demo.sitrep', password: DEMO_PASSWORD } })
    t.equal(signIn.statusCode, 201, 'the demo accounts sign in with the printed password')
  })
})
