import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // When the mail server of the user's address refused it as a recipient (an
  // SMTP 5xx to RCPT TO: no such mailbox): nothing more goes to it until its
  // owner confirms it again, which clears this.
  `alter table users add column email_refused_at timestamptz`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table users drop column email_refused_at').execute(db)
}
