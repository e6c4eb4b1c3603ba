import { type Kysely, sql } from 'kysely'

// Frozen in time. What the server's operator does at the command line (staff
// accounts, passwords, API tokens) is audited too, with no user as its actor.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table audit_log alter column actor_id drop not null').execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('delete from audit_log where actor_id is null').execute(db)
  await sql.raw('alter table audit_log alter column actor_id set not null').execute(db)
}
