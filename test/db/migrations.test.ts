import { sql } from 'kysely'
import pino from 'pino'
import t from 'tap'
import { migrateToLatest } from '../../src/db/migrate.ts'
import type { Thread } from '../../src/domain/views.ts'
import { buildSecondInstance, buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs } from '../helpers/pages.ts'

t.test('the release before starts on a database a later release migrated (a rollback, a rolling deploy); a migration missing in between is refused', async (t) => {
  const first = await buildTestApp(t)
  const tech = await makeUser(first.app, 'technician')
  // What a later release did: a column added, its migration recorded after all of this release's.
  await sql`alter table users add column later_note text`.execute(first.app.db)
  await sql`insert into kysely_migration (name, timestamp) values ('29991231000000_later_release', ${new Date().toISOString()})`.execute(first.app.db)

  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const older = await buildSecondInstance(t, first, { logger })
  t.equal((await older.inject({ url: '/readyz' })).statusCode, 200, 'it starts')
  const thread = await apiAs<Thread>(older, tech, 'POST', '/threads', { title: 'Rollback', body: 'Back on the release before.' })
  t.match((await older.inject({ url: `/t/${thread.id}` })).body, /Back on the release before\./, 'and serves')
  const warning = lines.map((line) => JSON.parse(line) as { level: number, msg: string, migrations?: string[] }).find((line) => line.msg.includes('later release'))
  t.same(warning?.migrations, ['29991231000000_later_release'], 'saying which migrations it runs without')
  t.equal(warning?.level, 40, 'as a warning')
  t.same(await migrateToLatest(first.app.db), { applied: [], newer: ['29991231000000_later_release'] }, 'and migrating again changes nothing')

  // An unknown migration among this release's own is no later release's: the schema has a gap.
  await sql`insert into kysely_migration (name, timestamp) values ('20000101000000_lost', ${new Date().toISOString()})`.execute(first.app.db)
  await t.rejects(buildSecondInstance(t, first), /could not migrate the database: corrupted migrations: previously executed migration \d+_\w+ is missing/, 'refused')
})
