import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // When a follower was last e-mailed about the thread: the next e-mail waits
  // a few minutes, gathering what came meanwhile, so a busy night is not a
  // mail a minute.
  `alter table subscriptions add column mailed_at timestamptz`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table subscriptions drop column mailed_at').execute(db)
}
