import { type Kysely, sql } from 'kysely'

// Frozen in time. A change to who someone is signed in as notifies every
// instance at commit, with the user's id: a session ended, or the user changed
// (name, role, language, password). Instances keep the sessions they have
// checked, and drop that user's when told.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(`create function notify_auth_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sitrep_auth', to_jsonb(old) ->> tg_argv[0]);
      return null;
    end
  $$`).execute(db)
  await sql.raw(`create trigger users_notify_auth after update or delete on users
    for each row execute function notify_auth_change('id')`).execute(db)
  // Not on update: a session's last_seen_at moves every minute it is used.
  await sql.raw(`create trigger sessions_notify_auth after delete on sessions
    for each row execute function notify_auth_change('user_id')`).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop trigger sessions_notify_auth on sessions').execute(db)
  await sql.raw('drop trigger users_notify_auth on users').execute(db)
  await sql.raw('drop function notify_auth_change()').execute(db)
}
