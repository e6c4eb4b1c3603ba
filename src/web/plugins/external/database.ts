import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Config } from '../../../config.ts'
import { type DatabaseHandle, connectDatabase, isLockWait } from '../../../db/connect.ts'
import type { Database } from '../../../db/database.ts'
import { type Migrated, migrateToLatest } from '../../../db/migrate.ts'
import { Notifications } from '../../../db/notifications.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    database: DatabaseHandle
    /** What the database's triggers announce, heard on one connection. */
    notifications: Notifications
  }
}

export interface DatabasePluginOptions {
  config: Config
  /** An open database to use instead of connecting; its owner closes it. */
  database?: DatabaseHandle
}

/** Connects (server or embedded), brings the schema up to date, closes with the app. */
export default fp<DatabasePluginOptions>(async (fastify, { config, database: given }) => {
  const database = given ?? await connectDatabase({
    databaseUrl: config.databaseUrl,
    replicaUrls: config.databaseReplicaUrls,
    dataDir: config.dataDir,
    // The message alone: pg hangs the whole client, settings and all, on the error.
    onPoolError: (err) => fastify.log.warn({ err: err.message }, 'database connection lost; the pool will reconnect')
  })
  const close = given === undefined ? () => database.close() : async () => {}
  try {
    // A table a migration changes may be held by another session (an
    // operator's open transaction): the migration lets go of its turn, so the
    // other instances' queries do not queue behind it, and tries again.
    let migrated: Migrated
    for (let attempt = 1; ; attempt++) {
      try {
        migrated = await database.unhurried(migrateToLatest)
        break
      } catch (err) {
        if (!isLockWait(err)) throw err
        fastify.log.warn({ attempt }, 'the database migration waits for a lock another session holds; trying again')
        await sleep(Math.min(attempt, 5) * 1_000)
      }
    }
    if (migrated.applied.length > 0) fastify.log.info({ migrations: migrated.applied }, 'database migrated')
    if (migrated.newer.length > 0) fastify.log.warn({ migrations: migrated.newer }, 'the database holds migrations of a later release; this one runs without them')
  } catch (err) {
    await close()
    throw err
  }
  const notifications = new Notifications(database, fastify.log)
  await notifications.start()
  fastify.decorate('database', database)
  fastify.decorate('db', database.db)
  fastify.decorate('notifications', notifications)
  fastify.addHook('onClose', async () => {
    await notifications.stop()
    await close()
  })
}, { name: 'database' })
