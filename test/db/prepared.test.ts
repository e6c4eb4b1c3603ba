import { sql } from 'kysely'
import t from 'tap'
import { connectDatabase } from '../../src/db/connect.ts'
import { migrateToLatest } from '../../src/db/migrate.ts'
import { createSession, endSession, resumeSession } from '../../src/domain/sessions.ts'
import { actorForToken, createApiToken, revokeApiToken } from '../../src/domain/tokens.ts'
import { createUser } from '../../src/domain/users.ts'
import { createTestDatabase } from '../helpers/database.ts'

t.test('the lookups every request makes are planned once per connection, and still read what is current', async (t) => {
  const database = await createTestDatabase()
  // One connection: what it has prepared is what this test reads back.
  const handle = await connectDatabase({ databaseUrl: database.databaseUrl, dataDir: database.dataDir, poolSize: 1 })
  t.teardown(async () => {
    await handle.close()
    await database.drop()
  })
  const { db } = handle
  await migrateToLatest(db)
  const now = new Date()
  const user = await createUser(db, { email: 'lead@example.org', name: 'Day Lead', password: 'a long enough password', role: 'technician', shift: 'day' })
  const { token } = await createSession(db, user.id, now)
  const apiToken = await createApiToken(db, user.id)

  for (let i = 0; i < 3; i++) {
    t.equal((await resumeSession(db, token, now))?.actor.name, 'Day Lead', 'the session is resumed')
    t.equal((await actorForToken(db, apiToken, now))?.name, 'Day Lead', 'the API token is accepted')
  }

  // A change to the user shows at the next request: only the plan is kept.
  await db.updateTable('users').set({ name: 'Evening Lead', shift: 'evening' }).where('id', '=', user.id).execute()
  const resumed = await resumeSession(db, token, now)
  t.equal(resumed?.actor.name, 'Evening Lead')
  t.equal(resumed?.actor.shift, 'evening')
  t.equal((await actorForToken(db, apiToken, now))?.name, 'Evening Lead')

  await endSession(db, token)
  t.equal(await resumeSession(db, token, now), null, 'a session ended is refused at once')
  t.ok(await revokeApiToken(db, apiToken, now))
  t.equal(await actorForToken(db, apiToken, now), null, 'a token revoked is refused at once')

  if (handle.kind === 'server') {
    const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements order by prepare_time`.execute(db)
    t.equal(rows.length, 2, 'one statement each, however many times they ran')
    t.match(rows[0]!.statement, /from "sessions"/)
    t.match(rows[1]!.statement, /from "api_tokens"/)
  }

  // A newer instance's migration changes a column the lookups return, while
  // this one still runs: signed-in readers and scripts must not be refused.
  const { token: again } = await createSession(db, user.id, now)
  const anotherToken = await createApiToken(db, user.id)
  t.ok(await resumeSession(db, again, now))
  await sql`alter table users alter column name type varchar(200)`.execute(db)
  t.equal((await resumeSession(db, again, now))?.actor.name, 'Evening Lead', 'the session is resumed after the migration')
  t.equal((await actorForToken(db, anotherToken, now))?.name, 'Evening Lead', 'the API token is accepted after the migration')
  t.equal((await resumeSession(db, again, now))?.actor.name, 'Evening Lead', 'and on the next connection')
})
