import { type Kysely, sql } from 'kysely'

// Frozen in time. Resolved incidents are listed a page at a time by their
// latest activity; idempotency keys are swept once a day old.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw('drop index threads_listing').execute(db)
  await sql.raw(`create index threads_resolved_activity on threads ((coalesce(last_post_at, created_at)) desc, id desc) where status = 'resolved'`).execute(db)
  await sql.raw('create index idempotency_keys_age on idempotency_keys (created_at)').execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop index idempotency_keys_age').execute(db)
  await sql.raw('drop index threads_resolved_activity').execute(db)
  await sql.raw(`create index threads_listing on threads ((status = 'resolved'), last_post_at desc)`).execute(db)
}
