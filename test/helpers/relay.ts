import net from 'node:net'
import type { Test } from 'tap'

/**
 * A TCP relay to a PostgreSQL server that keeps what the app asks it (the
 * queries' text goes in the clear), and can go silent, as a network cut in two
 * or a frozen server does: connections stay open, and nothing more goes through.
 */
export interface Relay {
  url: string
  asked: () => string
  forget: () => void
  /** Nothing goes through any more, either way, for good: what is sent is lost. */
  silence: () => void
  /** Nothing goes through until `resume`, which sends on what was held: a server frozen, then thawed. */
  pause: () => void
  resume: () => void
  /** Cuts every connection through it, as a network that comes back does to those that were silent. */
  cut: () => void
}

/** A relay to the server of `url`; its own `url` is the same but for the address. */
export async function relayTo (t: Test, url: string): Promise<Relay> {
  const target = new URL(url)
  let silent = false
  let paused = false
  let held: Array<() => void> = []
  let asked = ''
  const pairs: net.Socket[][] = []
  const forward = (to: net.Socket, chunk: Buffer) => {
    if (silent) return
    if (paused) held.push(() => to.write(chunk))
    else to.write(chunk)
  }
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    pairs.push([client, upstream])
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('error', () => {})
      from.on('close', () => to.destroy())
      from.on('data', (chunk: Buffer) => {
        if (from === client && !silent) asked += chunk.toString('latin1')
        forward(to, chunk)
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const cut = () => { for (const socket of pairs.flat()) socket.destroy() }
  t.teardown(() => {
    cut()
    server.close()
  })
  const relayed = new URL(url)
  relayed.hostname = '127.0.0.1'
  relayed.port = String((server.address() as net.AddressInfo).port)
  return {
    url: relayed.toString(),
    asked: () => asked,
    forget: () => { asked = '' },
    silence: () => { silent = true },
    pause: () => { paused = true },
    resume: () => {
      paused = false
      const sending = held
      held = []
      for (const send of sending) send()
    },
    cut
  }
}
