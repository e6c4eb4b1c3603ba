// The floor for fan-out: a bare ws server that sends one pre-built 1 KB
// buffer to every socket when asked over HTTP.
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const port = Number(process.env.PORT ?? 3901)
const payload = Buffer.from(JSON.stringify({ type: 'broadcast', pad: 'x'.repeat(990) }).slice(0, 1024))
const server = createServer((req, res) => {
  if (req.method === 'POST') {
    for (const client of wss.clients) client.send(payload)
    res.end('{}')
    return
  }
  res.end('ok')
})
const wss = new WebSocketServer({ server, perMessageDeflate: false })
server.listen(port, '127.0.0.1', () => process.send?.({ kind: 'listening' }))
