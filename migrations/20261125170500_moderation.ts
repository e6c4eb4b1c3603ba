import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // Every pinned state of a thread, the current one with no unpinned_at.
  `create table pins (
    id integer generated always as identity primary key,
    thread_id integer not null references threads (id),
    post_id integer not null references posts (id),
    pinned_by integer not null references users (id),
    pinned_at timestamptz not null default now(),
    unpinned_at timestamptz
  )`,
  `create index pins_thread on pins (thread_id, id desc)`,

  // One flag per user and post; a moderator's decision closes the open ones.
  `create table flags (
    id integer generated always as identity primary key,
    post_id integer not null references posts (id),
    user_id integer not null references users (id) on delete cascade,
    reason text not null check (reason in ('spam', 'rumour', 'abusive')),
    created_at timestamptz not null default now(),
    resolved_at timestamptz,
    resolved_by integer references users (id),
    resolution text check (resolution in ('hidden', 'dismissed')),
    unique (post_id, user_id)
  )`,
  `create index flags_open on flags (post_id) where resolved_at is null`,

  // The update that answers a customer's question.
  `alter table posts add column answered_by integer references posts (id)`,
  // Per-user posting limits count a user's recent posts across all threads.
  `create index posts_author_created on posts (author_id, created_at desc)`,

  `alter table threads add column crisis_mode boolean not null default false`,
  `alter table threads add column crisis_read_only boolean not null default false`,

  `create index audit_log_actor on audit_log (actor_id, id)`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const statement of [
    'drop index audit_log_actor',
    'alter table threads drop column crisis_read_only',
    'alter table threads drop column crisis_mode',
    'drop index posts_author_created',
    'alter table posts drop column answered_by',
    'drop table flags',
    'drop table pins'
  ]) await sql.raw(statement).execute(db)
}
