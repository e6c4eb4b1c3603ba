import { type Kysely, sql } from 'kysely'

// Frozen in time. A check-in lapses an hour after the end of the shift it
// opens, unless made again: a forgotten check-out no longer keeps someone on
// duty, and taking the overdue alerts, for days. Open check-ins of before get
// twelve hours from their start, and at least an hour from now.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table duty add column lapses_at timestamptz').execute(db)
  await sql.raw(`update duty set lapses_at = coalesce(ended_at, greatest(started_at + interval '12 hours', now() + interval '1 hour'))`).execute(db)
  await sql.raw('alter table duty alter column lapses_at set not null').execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('alter table duty drop column lapses_at').execute(db)
}
