import { type Kysely, sql } from 'kysely'

// Frozen in time. Every logged event notifies the other instances at commit,
// with ids only: they read the event itself from the log.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(`create function notify_thread_event() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sitrep_events', new.thread_id || ':' || new.seq);
      return null;
    end
  $$`).execute(db)
  await sql.raw(`create trigger thread_events_notify after insert on thread_events
    for each row execute function notify_thread_event()`).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop trigger thread_events_notify on thread_events').execute(db)
  await sql.raw('drop function notify_thread_event()').execute(db)
}
