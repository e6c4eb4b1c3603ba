import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'

export interface LiveEvent { seq: number, type: string, threadId: number, post?: { id: number, body?: string, hidden: boolean }, thread?: { id: number } }

export interface LiveClient {
  ws: WebSocket
  /** Every event frame received, pings left out. */
  events: LiveEvent[]
  opened: Promise<void>
  closed: Promise<{ code: number, reason: string }>
  /** Resolves once `count` events have arrived; rejects after `ms`. */
  waitForCount: (count: number, ms?: number) => Promise<void>
}

/** Polls `check` until it holds or `ms` have passed; says whether it held. */
export async function until (check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  return check()
}

/** The app's address, listening on a free port of 127.0.0.1. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return `127.0.0.1:${address.port}`
}

export function openLive (host: string, threadId: number, options: { since?: number, headers?: Record<string, string>, lang?: string } = {}): LiveClient {
  const query = new URLSearchParams()
  if (options.since !== undefined) query.set('since', String(options.since))
  if (options.lang !== undefined) query.set('lang', options.lang)
  const ws = new WebSocket(`ws://${host}/api/v1/threads/${threadId}/live?${query}`, { headers: options.headers })
  const events: LiveEvent[] = []
  const waiters: { count: number, resolve: () => void }[] = []
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as LiveEvent | { type: 'ping' }
    if (frame.type === 'ping') return
    events.push(frame as LiveEvent)
    for (const waiter of [...waiters]) {
      if (events.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  })
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)))
    ws.once('error', reject)
  })
  const closed = new Promise<{ code: number, reason: string }>((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) }))
  })
  const waitForCount = (count: number, ms = 5000) => new Promise<void>((resolve, reject) => {
    if (events.length >= count) return resolve()
    const timer = setTimeout(() => reject(new Error(`had ${events.length} of ${count} events after ${ms} ms`)), ms)
    waiters.push({ count, resolve: () => { clearTimeout(timer); resolve() } })
  })
  return { ws, events, opened, closed, waitForCount }
}
