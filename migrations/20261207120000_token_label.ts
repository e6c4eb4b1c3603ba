import { type Kysely, sql } from 'kysely'

// Frozen in time. An API token says what it is for (a monitoring script, the
// status page), so an admin knows which one to revoke.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table api_tokens add column label text check (char_length(label) <= 100)').execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table api_tokens drop column label').execute(db)
}
