// A flood's load generator, in a process of its own on core 1 (bench/run.ts
// starts it): `perSecond` requests a second, each on a new connection, spread
// over loopback source addresses, until told to stop; it answers with the
// count of each status. Apart from the reader probe, whose latencies are the
// figure: the flood's own client work must not delay the probe's event loop.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

interface Start { kind: 'start', port: number, path: string, body: string, perSecond: number, addresses: string[] }

function send (port: number, path: string, body: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path, localAddress, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    request.on('error', reject)
    request.end(body)
  })
}

let stop: (() => Promise<Record<string, number>>) | undefined

function start ({ port, path, body, perSecond, addresses }: Start): void {
  const statuses: Record<string, number> = {}
  const pending = new Set<Promise<unknown>>()
  let n = 0
  const timer = setInterval(() => {
    for (let i = 0; i < perSecond / 100; i++) {
      const request = send(port, path, body, addresses[n++ % addresses.length]!)
        .then((status) => { statuses[status] = (statuses[status] ?? 0) + 1 }, () => { statuses.error = (statuses.error ?? 0) + 1 })
      pending.add(request)
      void request.finally(() => pending.delete(request))
    }
  }, 10)
  stop = async () => {
    clearInterval(timer)
    await Promise.all(pending)
    return statuses
  }
}

process.on('message', (message: { kind: string }) => {
  if (message.kind === 'start') start(message as Start)
  if (message.kind === 'stop') {
    void stop!().then((statuses) => process.send!({ kind: 'statuses', statuses }))
  }
})
process.on('disconnect', () => process.exit(0))

// Warmed up against a server of its own first, so that the first second of a
// measured flood is not this process compiling its code on the probe's core.
const own = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => { res.statusCode = 404; res.end() })
})
await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve))
const ownPort = (own.address() as AddressInfo).port
for (let i = 0; i < 20; i++) {
  await Promise.all(Array.from({ length: 50 }, (_, j) => send(ownPort, '/', '{}', `127.0.0.${2 + (j % 8)}`).catch(() => 0)))
}
own.close()
process.send!({ kind: 'ready' })
