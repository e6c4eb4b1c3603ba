import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether to shed what can wait: anonymous page renders and new live sockets. */
    underPressure: () => boolean
  }
}

export interface PressureOptions {
  /** Event loop delay beyond which readers are shed, in ms. */
  maxEventLoopDelayMs?: number
  /** Heap in use beyond which readers are shed, in bytes. */
  maxHeapUsedBytes?: number
  /** Tests: answer as if the process were overloaded, or not, whatever it measures. */
  force?: () => boolean
}

/** Seconds a shed reader is asked to wait: about the time a flash crowd's first wave takes to pass. */
export const SHED_RETRY_AFTER = 5

/**
 * Measures the process with @fastify/under-pressure but sheds nothing by
 * itself: which requests may wait is the routes' call (anonymous page renders
 * and new sockets first; staff posting and moderation never).
 */
export default fp<PressureOptions>(async (fastify, options) => {
  await fastify.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs ?? 200,
    maxHeapUsedBytes: options.maxHeapUsedBytes ?? 1024 * 1024 * 1024,
    retryAfter: SHED_RETRY_AFTER,
    // Let every request through the plugin's hook: shedding is decided where the request is understood.
    pressureHandler: () => undefined
  })
  const force = options.force
  fastify.decorate('underPressure', () => force?.() ?? fastify.isUnderPressure())
}, { name: 'pressure' })
