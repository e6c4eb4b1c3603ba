import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // Who led, from when to when: a handover names the incoming shift's lead as
  // it was then, whoever takes the lead later. A check-in may lead more than
  // once (taken over, then given back).
  `create table duty_leads (
    id serial primary key,
    duty_id integer not null references duty (id) on delete cascade,
    started_at timestamptz not null,
    ended_at timestamptz
  )`,
  'create index duty_leads_open on duty_leads (duty_id) where ended_at is null',
  'create index duty_leads_started on duty_leads (started_at)',
  // The leads of before, as their check-ins say: from the check-in, until it ended.
  'insert into duty_leads (duty_id, started_at, ended_at) select id, started_at, ended_at from duty where lead'
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop table duty_leads').execute(db)
}
