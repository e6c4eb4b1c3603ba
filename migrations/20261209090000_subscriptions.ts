import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // An address is written to about incidents once its owner has shown it is
  // theirs: sign-up checks nothing, and nobody may sign someone else up.
  `alter table users add column email_confirmed_at timestamptz`,
  // When the last link to confirm it was sent: a few a day at most.
  `alter table users add column confirm_mailed_at timestamptz`,

  // Who follows an incident by e-mail. Its official posts up to
  // mailed_through (a post id) are sent or were there before the follow; a
  // pass claims a follow until claimed_until, so that with several instances
  // each post goes to each follower once.
  `create table subscriptions (
    user_id integer not null references users (id) on delete cascade,
    thread_id integer not null references threads (id) on delete cascade,
    created_at timestamptz not null default now(),
    mailed_through integer not null default 0,
    claimed_until timestamptz,
    primary key (user_id, thread_id)
  )`,
  `create index subscriptions_thread on subscriptions (thread_id)`,
  // The mail pass looks for followed threads with official posts newer than what was sent.
  `create index posts_thread_official on posts (thread_id, id) where kind <> 'comment'`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const statement of [
    'drop index posts_thread_official',
    'drop table subscriptions',
    'alter table users drop column confirm_mailed_at',
    'alter table users drop column email_confirmed_at'
  ]) await sql.raw(statement).execute(db)
}
