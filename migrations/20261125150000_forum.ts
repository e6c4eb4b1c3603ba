import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  `create table users (
    id integer generated always as identity primary key,
    email text not null,
    name text not null,
    role text not null check (role in ('customer', 'technician', 'moderator', 'admin')),
    shift text check (shift in ('day', 'evening', 'night')),
    password_hash text not null,
    locale text check (locale in ('en', 'fr')),
    created_at timestamptz not null default now()
  )`,
  `create unique index users_email_key on users (lower(email))`,

  `create table sessions (
    id text primary key,
    user_id integer not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
  )`,
  `create index sessions_user_id on sessions (user_id)`,

  `create table api_tokens (
    id integer generated always as identity primary key,
    user_id integer not null references users (id) on delete cascade,
    token_hash text not null unique,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
  )`,

  `create table threads (
    id integer generated always as identity primary key,
    title text not null,
    status text not null check (status in ('investigating', 'identified', 'monitoring', 'resolved')),
    locked boolean not null default false,
    pinned_post_id integer,
    next_update_at timestamptz,
    slow_mode_seconds integer not null default 0 check (slow_mode_seconds >= 0),
    last_post_at timestamptz,
    post_count integer not null default 0,
    last_seq integer not null default 0,
    created_by integer not null references users (id),
    created_at timestamptz not null default now()
  )`,
  `create index threads_listing on threads ((status = 'resolved'), last_post_at desc)`,

  `create table posts (
    id integer generated always as identity primary key,
    thread_id integer not null references threads (id),
    author_id integer not null references users (id),
    kind text not null check (kind in ('update', 'handover', 'comment')),
    body text not null,
    html text not null,
    shift text check (shift in ('day', 'evening', 'night')),
    reply_to integer references posts (id),
    status text check (status in ('investigating', 'identified', 'monitoring', 'resolved')),
    next_update_at timestamptz,
    created_at timestamptz not null default now(),
    edited_at timestamptz,
    hidden_at timestamptz,
    hidden_by integer references users (id),
    hidden_reason text
  )`,
  `create index posts_thread_id on posts (thread_id, id)`,
  `create index posts_author_thread on posts (author_id, thread_id, created_at desc)`,
  `alter table threads add constraint threads_pinned_post_fk foreign key (pinned_post_id) references posts (id)`,

  // An edit keeps the text it replaced.
  `create table post_revisions (
    id integer generated always as identity primary key,
    post_id integer not null references posts (id),
    body text not null,
    html text not null,
    edited_by integer not null references users (id),
    created_at timestamptz not null default now()
  )`,
  `create index post_revisions_post_id on post_revisions (post_id, id)`,

  // The thread's event log: seq is taken under the thread's row lock, so it has
  // no gaps and follows commit order.
  `create table thread_events (
    thread_id integer not null references threads (id),
    seq integer not null,
    type text not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    primary key (thread_id, seq)
  )`,

  `create table idempotency_keys (
    user_id integer not null references users (id) on delete cascade,
    key text not null,
    request_hash text not null,
    status_code integer,
    response jsonb,
    created_at timestamptz not null default now(),
    primary key (user_id, key)
  )`,

  `create table audit_log (
    id integer generated always as identity primary key,
    actor_id integer not null references users (id),
    action text not null,
    thread_id integer references threads (id),
    post_id integer references posts (id),
    target_user_id integer references users (id),
    before jsonb,
    after jsonb,
    reason text,
    created_at timestamptz not null default now()
  )`,
  `create index audit_log_thread on audit_log (thread_id, id)`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of ['audit_log', 'idempotency_keys', 'thread_events', 'post_revisions']) {
    await sql.raw(`drop table ${table}`).execute(db)
  }
  await sql.raw('alter table threads drop constraint threads_pinned_post_fk').execute(db)
  for (const table of ['posts', 'threads', 'api_tokens', 'sessions', 'users']) {
    await sql.raw(`drop table ${table}`).execute(db)
  }
}
