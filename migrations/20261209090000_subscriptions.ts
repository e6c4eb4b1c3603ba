import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // An address is written to about incidents once its owner has shown it is
  // theirs: sign-up checks nothing, and nobody may sign someone else up.
  `alter table users add column email_confirmed_at timestamptz`,
  // When the last link to confirm it was sent.
  `alter table users add column confirm_mailed_at timestamptz`,

  // The thread's latest official post (update or handover): the mail pass
  // finds the followers behind it without reading the posts.
  `alter table threads add column last_official_post_id integer not null default 0`,
  `update threads set last_official_post_id = coalesce((select max(id) from posts where posts.thread_id = threads.id and posts.kind <> 'comment'), 0)`,

  // Who follows an incident by e-mail. Its official posts up to
  // mailed_through (a post id) are sent, or were there before the follow. A
  // pass claims a follow (claimed_by, until claimed_until) and holds it while
  // it sends: with several instances, each post goes to each follower once.
  `create table subscriptions (
    user_id integer not null references users (id) on delete cascade,
    thread_id integer not null references threads (id) on delete cascade,
    created_at timestamptz not null default now(),
    mailed_through integer not null default 0,
    claimed_by text,
    claimed_until timestamptz,
    primary key (user_id, thread_id)
  )`,
  // The followers of a thread not sent its latest official post yet.
  `create index subscriptions_due on subscriptions (thread_id, mailed_through)`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const statement of [
    'drop table subscriptions',
    'alter table threads drop column last_official_post_id',
    'alter table users drop column confirm_mailed_at',
    'alter table users drop column email_confirmed_at'
  ]) await sql.raw(statement).execute(db)
}
