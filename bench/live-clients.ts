// One load-generator process: opens `count` WebSockets to `url`, spread over
// loopback source addresses, and reports when each received its first
// matching frame, on the machine's monotonic clock (shared by all processes).
import WebSocket from 'ws'

interface Start { url: string, count: number, addresses: string[], match: string }

const sockets: WebSocket[] = []
let receipts: bigint[] = []
let armed = false
let round = 0

process.on('message', (message: { kind: string } & Partial<Start>) => {
  if (message.kind === 'open') void open(message as Start)
  if (message.kind === 'arm') {
    receipts = []
    round++
    armed = true
  }
  if (message.kind === 'collect') {
    armed = false
    process.send!({ kind: 'receipts', receipts: receipts.map(String) })
  }
  if (message.kind === 'close') {
    for (const socket of sockets) socket.terminate()
    process.exit(0)
  }
})

async function open ({ url, count, addresses, match }: Start): Promise<void> {
  // Looked for in the frame's bytes, as they came: no string made of each.
  const needle = Buffer.from(match)
  let opened = 0
  let failed = 0
  const batch = 200
  for (let i = 0; i < count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => new Promise<void>((resolve) => {
      const socket = new WebSocket(url, { localAddress: addresses[(i + j) % addresses.length], perMessageDeflate: false })
      let seenRound = 0
      socket.on('message', (data: Buffer) => {
        // The time first: what the check below costs is the client's, not the server's.
        const at = process.hrtime.bigint()
        if (!armed || seenRound === round) return
        if (!data.includes(needle)) return
        seenRound = round
        receipts.push(at)
      })
      socket.once('open', () => { opened++; sockets.push(socket); resolve() })
      socket.once('error', () => { failed++; resolve() })
    })))
  }
  process.send!({ kind: 'opened', opened, failed })
}
