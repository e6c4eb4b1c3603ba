import { overloaded } from './errors.ts'

/**
 * At most `concurrency` tasks at a time; up to `maxQueued` more wait their
 * turn, in order; beyond that a task is refused at once (503, Retry-After).
 */
export interface Limiter {
  run: <T>(task: () => Promise<T>) => Promise<T>
  readonly active: number
  readonly queued: number
}

export function createLimiter (concurrency: number, maxQueued: number, retryAfter = 2): Limiter {
  let active = 0
  const waiting: Array<() => void> = []
  const release = () => {
    const next = waiting.shift()
    if (next !== undefined) next()
    else active--
  }
  return {
    get active () { return active },
    get queued () { return waiting.length },
    async run (task) {
      if (active >= concurrency) {
        if (waiting.length >= maxQueued) throw overloaded(retryAfter)
        // The slot is handed over by `release`, so `active` stays counted.
        await new Promise<void>((resolve) => waiting.push(resolve))
      } else {
        active++
      }
      try {
        return await task()
      } finally {
        release()
      }
    }
  }
}
