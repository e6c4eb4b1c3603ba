import { readdir } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely'

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

/** Brings the schema up to date; returns the names of the migrations it applied. */
export async function migrateToLatest (db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new MigrationFolder(dir) })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')
    const message = (error as Error).message
    throw new Error(failed === undefined ? `could not migrate the database: ${message}` : `migration ${failed.migrationName} failed: ${message}`, { cause: error })
  }
  return (results ?? []).map((r) => r.migrationName)
}
