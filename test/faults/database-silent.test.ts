import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Migrator, sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { connectDatabase } from '../../src/db/connect.ts'
import { MIGRATIONS_DIR, MigrationFolder } from '../../src/db/migrate.ts'
import type { Thread } from '../../src/domain/views.ts'
import { NOT_SHEDDING, type TestApp, buildSecondInstance, buildTestApp, makeUser } from '../helpers/app.ts'
import { createTestDatabase, onDatabaseServer } from '../helpers/database.ts'
import { until } from '../helpers/live.ts'
import { apiAs, signIn } from '../helpers/pages.ts'
import { type Relay, relayTo } from '../helpers/relay.ts'

// A database that goes down says so at once: connections are refused or cut.
// One that stops answering says nothing: a server frozen, a network cut in two,
// a row lock another session holds. Requests must not hang as long as it lasts:
// they get a 503 to try again, and nothing a client was told is saved goes missing.
if (onDatabaseServer(t, 'a lock held from another connection, a connection gone silent')) {
  // Each part has an app and a database of its own, and spends most of its
  // time waiting for a time limit to pass: they wait side by side.
  t.jobs = 3

  /** The answer, or 'no answer' if there is none after half a minute: a request left hanging. */
  const within = (request: Promise<LightMyRequestResponse>) => Promise.race([
    request,
    new Promise<'no answer'>((resolve) => setTimeout(() => resolve('no answer'), 30_000).unref())
  ])

  /** Another instance whose queries go straight to the server, and only its LISTEN connection through a relay. */
  async function listeningThroughRelay (t: Test, first: TestApp): Promise<{ relay: Relay, app: FastifyInstance }> {
    const relay = await relayTo(t, first.config.databaseUrl!)
    const database = await connectDatabase({ databaseUrl: first.config.databaseUrl, dataDir: 'memory://' })
    const app = await buildApp(first.config, { ...NOT_SHEDDING, database: { ...database, url: relay.url }, postingLimits: [] })
    t.teardown(async () => {
      relay.cut()
      await app.close()
      await database.close()
    })
    return { relay, app }
  }

  /** An operator's session in psql, say, holding a thread's row until it rolls back. */
  async function holdThreadRow (t: Test, databaseUrl: string, threadId: number): Promise<pg.Client> {
    const holder = new pg.Client({ connectionString: databaseUrl })
    await holder.connect()
    t.teardown(() => holder.end())
    await holder.query('begin')
    await holder.query('select * from threads where id = $1 for update', [threadId])
    return holder
  }

  t.test('a post waiting on a lock another session holds gets a 503, and its retry posts it once', async (t) => {
    const { app, config } = await buildTestApp(t)
    const tech = await makeUser(app, 'technician')
    const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Chiller failure', body: 'Room 2 warming up.' })
    const holder = await holdThreadRow(t, config.databaseUrl!, thread.id)

    const post = () => app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { ...tech.auth, 'idempotency-key': 'chiller-1' }, payload: { body: 'Spare chiller started.' } })
    const waited = await within(post())
    t.not(waited, 'no answer', 'the post is answered while the lock is held')
    if (waited === 'no answer') return
    t.equal(waited.statusCode, 503, 'with a 503')
    t.equal(waited.json().error.code, 'database_unavailable')
    t.ok(Number(waited.headers['retry-after']) > 0, 'saying when to try again')

    await holder.query('rollback')
    const retried = await post()
    t.equal(retried.statusCode, 201, 'tried again once the lock is gone, it is posted')
    const posts = (await app.inject({ url: `/api/v1/threads/${thread.id}/posts` })).json().posts as Array<{ body: string }>
    t.equal(posts.filter((p) => p.body === 'Spare chiller started.').length, 1, 'once')
  })

  t.test('an instance whose posts all wait on a lock is still ready: the database answers', async (t) => {
    const { app, config } = await buildTestApp(t)
    const tech = await makeUser(app, 'technician')
    const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Generator test', body: 'Starting.' })
    const holder = await holdThreadRow(t, config.databaseUrl!, thread.id)
    // More posts than the instance has connections, each holding one while it waits for the row.
    const posts = Array.from({ length: 25 }, (_, i) => app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: { ...tech.auth, 'idempotency-key': `generator-${i}` }, payload: { body: `Generator check ${i}.` } }))
    let waiting = 0
    const watcher = new pg.Client({ connectionString: config.databaseUrl })
    await watcher.connect()
    t.teardown(() => watcher.end())
    for (let i = 0; i < 100 && waiting < 15; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20))
      waiting = Number((await watcher.query("select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).rows[0].count)
    }
    t.ok(waiting >= 15, `${waiting} of the instance's connections wait on the lock`)
    const ready = await app.inject({ url: '/readyz' })
    t.equal(ready.statusCode, 200, 'the instance is ready: a load balancer keeps sending it readers, whose cached pages it serves')
    await holder.query('rollback')
    t.ok((await Promise.all(posts)).every((answer) => answer.statusCode === 201 || answer.statusCode === 503), 'the posts are answered, taken or to try again')
  })

  t.test('an instance whose database goes silent answers 503 instead of hanging', async (t) => {
    const first = await buildTestApp(t)
    const tech = await makeUser(first.app, 'technician')
    const thread = await apiAs<Thread>(first.app, tech, 'POST', '/threads', { title: 'Core switch reboot', body: 'Planned, 5 minutes.' })
    const relay = await relayTo(t, first.config.databaseUrl!)
    const second = await buildSecondInstance(t, first, {}, { databaseUrl: relay.url })
    t.equal((await apiAs<Thread>(second, tech, 'GET', `/threads/${thread.id}`)).title, 'Core switch reboot', 'it reads through the relay while it passes things on')

    relay.pause()
    const [post, read] = await Promise.all([
      within(second.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Switch back up.' } })),
      within(second.inject({ url: `/api/v1/threads/${thread.id}`, headers: tech.auth }))
    ])
    t.equal(post === 'no answer' ? post : post.statusCode, 503, 'a technician\'s post is answered 503, to try again')
    t.equal(read === 'no answer' ? read : read.statusCode, 503, 'so is a read')
    t.ok(await until(() => !second.notifications.listening, 20_000), 'and the instance knows it no longer hears the others')

    // The server answers again: the instance works again by itself, and what it posts now is saved.
    relay.resume()
    let again = await second.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Switch back up, for real.' } })
    for (let i = 0; i < 50 && again.statusCode === 503; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      again = await second.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Switch back up, for real.' } })
    }
    t.equal(again.statusCode, 201, 'a post goes through once the server answers')
    await new Promise((resolve) => setTimeout(resolve, 500))
    const bodies = (await first.app.inject({ url: `/api/v1/threads/${thread.id}/posts` })).json().posts.map((p: { body: string }) => p.body)
    t.ok(bodies.includes('Switch back up, for real.'), 'and is saved, as another instance sees')
    t.notOk(bodies.includes('Switch back up.'), 'the post answered 503 was not')
    t.ok(await until(() => second.notifications.listening, 20_000), 'it hears the others again')
  })

  t.test('a query given up on leaves no connection in a transaction for the next request to fall into', async (t) => {
    const { config } = await buildTestApp(t)
    const relay = await relayTo(t, config.databaseUrl!)
    const database = await connectDatabase({ databaseUrl: relay.url, dataDir: 'memory://', poolSize: 1 })
    t.teardown(async () => {
      relay.cut()
      await database.close()
    })
    await sql`create table jot (note text)`.execute(database.db)
    // The server freezes as a transaction begins; the app gives up on it.
    relay.pause()
    await t.rejects(database.db.transaction().execute(async (trx) => { await sql`insert into jot values ('lost')`.execute(trx) }), /Query read timeout/)
    // It thaws, and runs the BEGIN it was sent.
    relay.resume()
    await new Promise((resolve) => setTimeout(resolve, 300))
    await sql`insert into jot values ('kept')`.execute(database.db)
    const seen = await new pg.Client({ connectionString: config.databaseUrl })
    await seen.connect()
    t.teardown(() => seen.end())
    t.same((await seen.query('select note from jot')).rows, [{ note: 'kept' }], 'the next write is committed, not left in that transaction')
  })

  t.test('an instance whose LISTEN connection goes silent stops trusting what it keeps, and shows others\' posts at once', async (t) => {
    const first = await buildTestApp(t)
    const tech = await makeUser(first.app, 'technician')
    const thread = await apiAs<Thread>(first.app, tech, 'POST', '/threads', { title: 'DNS resolver flapping', body: 'Lookups time out.' })
    const { relay, app: second } = await listeningThroughRelay(t, first)
    t.ok(second.notifications.listening, 'it listens')
    for (let i = 0; i < 2; i++) t.equal((await second.inject({ url: `/t/${thread.id}` })).statusCode, 200, 'and keeps the page')

    relay.silence()
    t.ok(await until(() => !second.notifications.listening, 15_000), 'a LISTEN connection that no longer answers is taken for lost')
    await apiAs(first.app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Resolver 2 taken out of the pool.' })
    t.match((await second.inject({ url: `/t/${thread.id}` })).body, /Resolver 2 taken out of the pool\./, 'a post made on another instance meanwhile is on its next page')
  })

  t.test('a migration that waits for a lock another session holds lets go in turns, and migrates once it is free', async (t) => {
    const database = await createTestDatabase()
    t.teardown(() => database.drop())
    // A database one migration behind, the one that adds a column to users.
    const older = await connectDatabase({ databaseUrl: database.databaseUrl, dataDir: 'memory://' })
    const { error } = await new Migrator({ db: older.db, provider: new MigrationFolder(MIGRATIONS_DIR) }).migrateTo('20261210100000_mailbox_index')
    await older.close()
    t.equal(error, undefined)
    // An operator's transaction reading users: the migration's ALTER TABLE must wait for it.
    const holder = new pg.Client({ connectionString: database.databaseUrl })
    await holder.connect()
    t.teardown(() => holder.end())
    await holder.query('begin')
    await holder.query('select count(*) from users')

    const config = { ...loadConfig({ SESSION_SECRET: 'test-secret-that-is-long-enough-for-hmac' }), databaseUrl: database.databaseUrl }
    let built = false
    const building = buildApp(config, { ...NOT_SHEDDING, postingLimits: [] }).then((app) => {
      built = true
      t.teardown(() => app.close())
      return app
    })
    // Meanwhile another session's reads of users are not held up behind the waiting migration for long.
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    const reader = new pg.Client({ connectionString: database.databaseUrl })
    await reader.connect()
    t.teardown(() => reader.end())
    const asked = Date.now()
    await reader.query('select count(*) from users')
    t.ok(Date.now() - asked < 4_000, `a read of users waited ${Date.now() - asked} ms, not as long as the lock is held`)
    t.notOk(built, 'the instance does not start on a schema it could not migrate')

    await holder.query('rollback')
    const app = await building
    t.ok(built, 'once the lock is gone, it migrates and starts')
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
    const columns = await sql<{ name: string }>`select column_name as name from information_schema.columns where table_name = 'users' and column_name = 'reset_mailed_at'`.execute(app.db)
    t.equal(columns.rows.length, 1, 'with the migration it waited for')
  })

  t.test('a language chosen and changed back at once sticks, without waiting for the database to announce the first choice', async (t) => {
    const first = await buildTestApp(t)
    // Its announcements come late: its LISTEN connection goes through a relay that holds them.
    const { relay, app } = await listeningThroughRelay(t, first)
    const admin = await makeUser(app, 'admin')
    const cookies = await signIn(app, admin)
    t.match((await app.inject({ url: '/admin/users', cookies })).body, '<html lang="en"')
    relay.pause()
    t.match((await app.inject({ url: '/admin/users?lang=fr', cookies })).body, '<html lang="fr"')
    t.match((await app.inject({ url: '/admin/users?lang=en', cookies })).body, '<html lang="en"')
    t.match((await app.inject({ url: '/admin/users', cookies })).body, '<html lang="en"', 'English, as last chosen')
    const [row] = (await sql<{ locale: string }>`select locale from users where id = ${admin.actor.id}`.execute(app.db)).rows
    t.equal(row?.locale, 'en', 'and kept so with the account')
    relay.resume()
  })
}
