import { readdir } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

// Kysely's FileMigrationProvider wants fs and path injected; importing by URL
// keeps it working under the TypeScript loader, on every platform.
export class MigrationFolder implements MigrationProvider {
  constructor (private readonly dir: string) {}

  async getMigrations (): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {}
    for (const file of (await readdir(this.dir)).sort()) {
      if (!/^\d{14}_[\w-]+\.ts$/.test(file)) continue
      migrations[file.replace(/\.ts$/, '')] = await import(pathToFileURL(join(this.dir, file)).href) as Migration
    }
    return migrations
  }
}

export interface Migrated {
  /** The migrations this start applied. */
  applied: string[]
  /** Those a later release applied, after all of this one's: this release runs without them. */
  newer: string[]
}

/**
 * Brings the schema up to date. A database a later release migrated (a
 * rollback, or an instance of the release before restarting during a rolling
 * deploy) is left as it is, when everything this release knows was applied
 * before the migrations it does not: a release's migrations keep the one
 * before it working. Any other unknown migration is a gap, and refused.
 */
export async function migrateToLatest (db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<Migrated> {
  const folder = new MigrationFolder(dir)
  const known = await folder.getMigrations()
  const newer = await newerMigrations(db, Object.keys(known))
  // Kysely refuses a database holding a migration it is not given: it is given these, done already.
  const provider = { getMigrations: async () => ({ ...known, ...Object.fromEntries(newer.map((name) => [name, { up: appliedElsewhere(name) }])) }) }
  const migrator = new Migrator({ db, provider })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')
    const message = (error as Error).message
    throw new Error(failed === undefined ? `could not migrate the database: ${message}` : `migration ${failed.migrationName} failed: ${message}`, { cause: error })
  }
  return { applied: (results ?? []).map((r) => r.migrationName), newer }
}

/** The migrations the database holds that come after every one of `known` (sorted by name, as their timestamps sort). */
async function newerMigrations (db: Kysely<any>, known: string[]): Promise<string[]> {
  const found = await sql<{ relation: string | null }>`select to_regclass('kysely_migration')::text as relation`.execute(db)
  if (found.rows[0]?.relation == null) return []
  const executed = (await sql<{ name: string }>`select name from kysely_migration`.execute(db)).rows.map((row) => row.name)
  const last = [...known].sort().at(-1) ?? ''
  const unknown = executed.filter((name) => !known.includes(name)).sort()
  return unknown.every((name) => name > last) ? unknown : []
}

const appliedElsewhere = (name: string) => async (): Promise<void> => {
  throw new Error(`migration ${name} belongs to a later release`)
}
