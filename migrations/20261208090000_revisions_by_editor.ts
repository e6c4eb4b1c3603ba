import { type Kysely, sql } from 'kysely'

// Frozen in time. A customer's edits count with their comments against the
// posting limits: the revisions each one made lately are read at every edit.
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw('create index post_revisions_editor_created on post_revisions (edited_by, created_at desc)').execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop index post_revisions_editor_created').execute(db)
}
