import { type Kysely, sql } from 'kysely'

// Frozen in time. An API token revoked (or deleted) notifies every instance at
// commit, with its user's id, as a session ended does: instances keep the
// tokens they have checked, and drop that user's when told.
export async function up (db: Kysely<any>): Promise<void> {
  // Not on every update: a token's last_used_at moves every minute it is used.
  await sql.raw(`create trigger api_tokens_notify_auth after update of revoked_at or delete on api_tokens
    for each row execute function notify_auth_change('user_id')`).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop trigger api_tokens_notify_auth on api_tokens').execute(db)
}
