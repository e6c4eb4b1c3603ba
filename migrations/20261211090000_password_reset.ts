import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // When a link to choose a new password was last sent to the user: one at a
  // time per account, and a few an hour per mailbox, whoever asks.
  `alter table users add column reset_mailed_at timestamptz`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table users drop column reset_mailed_at').execute(db)
}
