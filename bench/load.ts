// A load generator process (run on core 1): autocannon, driven by messages from bench/run.ts.
import autocannon from 'autocannon'

interface Run { kind: 'run', url: string, headers: Record<string, string>, seconds: number, connections?: number, pipelining?: number }

process.on('message', (message: Run) => {
  if (message.kind !== 'run') return
  const instance = autocannon({
    url: message.url,
    connections: message.connections ?? 100,
    pipelining: message.pipelining ?? 10,
    duration: message.seconds,
    headers: message.headers
  }, (err, result) => {
    if (err !== null && err !== undefined) {
      process.send!({ kind: 'result', error: String(err) })
      return
    }
    process.send!({
      kind: 'result',
      // Answers a reader can use: a shed 503 or a timeout is not one.
      rps: (result['2xx'] + result['3xx']) / Math.max(1, result.duration),
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      timeouts: result.timeouts,
      errors: result.errors,
      bytesPerRequest: result.throughput.average / Math.max(1, result.requests.average)
    })
  })
  instance.on('error', () => {})
})
process.on('disconnect', () => process.exit(0))
