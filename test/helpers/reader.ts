import type { Test } from 'tap'
import WebSocket from 'ws'
import type { LiveEvent } from './live.ts'

export interface Reader {
  /** Every event received, across every connection, in arrival order. */
  events: LiveEvent[]
  /** The last seq seen: what a reconnection asks to resume after. */
  lastSeq: () => number
  /** How many times a connection was opened. */
  connections: () => number
  /** Resolves once the reader has seen `seq`; rejects, saying what it has, after `ms`. */
  reach: (seq: number, ms?: number) => Promise<void>
  stop: () => void
}

/**
 * A reader that stays on a thread's live stream as the page's script does:
 * when its socket drops, it reconnects with ?since=<last seq seen>, again and
 * again until the server answers.
 */
export function startReader (t: Test, host: string, threadId: number, options: { since?: number, retryMs?: number } = {}): Reader {
  const events: LiveEvent[] = []
  let lastSeq = options.since ?? 0
  let connections = 0
  let stopped = false
  let socket: WebSocket | null = null
  let retry: NodeJS.Timeout | null = null
  const waiters = new Set<{ seq: number, resolve: () => void }>()

  const connect = () => {
    retry = null
    if (stopped) return
    connections++
    const ws = new WebSocket(`ws://${host}/api/v1/threads/${threadId}/live?since=${lastSeq}`)
    socket = ws
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as LiveEvent | { type: 'ping' }
      if (frame.type === 'ping') return
      const event = frame as LiveEvent
      events.push(event)
      lastSeq = Math.max(lastSeq, event.seq)
      for (const waiter of [...waiters]) {
        if (lastSeq >= waiter.seq) {
          waiters.delete(waiter)
          waiter.resolve()
        }
      }
    })
    // A refused or dropped connection: try again shortly, from where it was.
    ws.on('error', () => {})
    ws.on('close', () => {
      if (socket === ws) socket = null
      if (!stopped) retry = setTimeout(connect, options.retryMs ?? 100)
    })
  }

  const stop = () => {
    stopped = true
    if (retry !== null) clearTimeout(retry)
    socket?.terminate()
  }
  t.teardown(stop)
  connect()

  const reach = (seq: number, ms = 20_000) => new Promise<void>((resolve, reject) => {
    if (lastSeq >= seq) return resolve()
    const waiter = {
      seq,
      resolve: () => {
        clearTimeout(timer)
        resolve()
      }
    }
    const timer = setTimeout(() => {
      waiters.delete(waiter)
      reject(new Error(`the reader reached seq ${lastSeq} of ${seq} in ${ms} ms`))
    }, ms)
    waiters.add(waiter)
  })

  return { events, lastSeq: () => lastSeq, connections: () => connections, reach, stop }
}

/** 1, 2, …, n. */
export const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)
