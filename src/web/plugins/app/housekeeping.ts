import fp from 'fastify-plugin'
import { failuresOnce } from '../../../db/connect.ts'
import { deleteExpiredKeys } from '../../../domain/idempotency.ts'
import { deleteExpiredSessions } from '../../../domain/sessions.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Deletes the rows past their time: ended sessions, idempotency keys over a day old. */
    sweep: () => Promise<void>
  }
}

const SWEEP_EVERY_MS = 60 * 60_000

/** Old rows swept away once an hour, by every instance: deleting twice does no harm. */
export default fp(async (fastify) => {
  // After a day of crisis the rows are many: the sweep takes the time it
  // needs, on a connection without the requests' time limits.
  const sweep = async (): Promise<void> => {
    const now = fastify.deps.now()
    await fastify.database.unhurried(async (db) => {
      await deleteExpiredSessions(db, now)
      await deleteExpiredKeys(db, now)
    })
  }
  fastify.decorate('sweep', sweep)
  const sweeping = failuresOnce(fastify.log, 'sweep old sessions and idempotency keys')
  const timer = setInterval(() => {
    sweep().then(sweeping.worked, sweeping.failed)
  }, SWEEP_EVERY_MS)
  timer.unref()
  fastify.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'housekeeping', dependencies: ['database'] })
