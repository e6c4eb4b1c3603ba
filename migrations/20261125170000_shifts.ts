import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // One row: the hour each shift starts, by the organisation's clock.
  `create table shift_schedule (
    id integer primary key default 1 check (id = 1),
    day_start integer not null default 7 check (day_start between 0 and 23),
    evening_start integer not null default 15 check (evening_start between 0 and 23),
    night_start integer not null default 23 check (night_start between 0 and 23),
    updated_at timestamptz not null default now(),
    check (day_start <> evening_start and evening_start <> night_start and night_start <> day_start)
  )`,
  `insert into shift_schedule (id) values (1)`,

  // Who is on duty: one open row per person; checking out closes it.
  `create table duty (
    id integer generated always as identity primary key,
    user_id integer not null references users (id) on delete cascade,
    shift text check (shift in ('day', 'evening', 'night')),
    lead boolean not null default false,
    started_at timestamptz not null,
    ended_at timestamptz
  )`,
  `create unique index duty_open_per_user on duty (user_id) where ended_at is null`,
  `create unique index duty_one_lead on duty ((true)) where ended_at is null and lead`,

  `alter table posts add column handover_to text check (handover_to in ('day', 'evening', 'night'))`,
  `alter table threads add column cadence_minutes integer check (cadence_minutes between 1 and 1440)`,
  // The promise the staff were last alerted about: each promise alerts once.
  `alter table threads add column alerted_for timestamptz`,
  `create index threads_due on threads (next_update_at) where next_update_at is not null`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop index threads_due').execute(db)
  await sql.raw('alter table threads drop column alerted_for').execute(db)
  await sql.raw('alter table threads drop column cadence_minutes').execute(db)
  await sql.raw('alter table posts drop column handover_to').execute(db)
  await sql.raw('drop table duty').execute(db)
  await sql.raw('drop table shift_schedule').execute(db)
}
