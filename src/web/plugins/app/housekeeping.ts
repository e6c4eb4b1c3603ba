import fp from 'fastify-plugin'
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
  const sweep = async (): Promise<void> => {
    const now = fastify.deps.now()
    await deleteExpiredSessions(fastify.db, now)
    await deleteExpiredKeys(fastify.db, now)
  }
  fastify.decorate('sweep', sweep)
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => fastify.log.warn({ err }, 'could not sweep old sessions and idempotency keys'))
  }, SWEEP_EVERY_MS)
  timer.unref()
  fastify.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'housekeeping', dependencies: ['database'] })
