import fc from 'fast-check'
import t from 'tap'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { type LiveClient, listen, openLive } from '../helpers/live.ts'

type Op =
  | { kind: 'post', by: 'tech' | 'customer' }
  | { kind: 'edit' }
  | { kind: 'hide' }
  | { kind: 'restore' }
  | { kind: 'drop', client: number }
  | { kind: 'rejoin', client: number }

const CLIENTS = 3

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('post' as const), by: fc.constantFrom('tech' as const, 'customer' as const) }),
  fc.constant({ kind: 'edit' as const }),
  fc.constant({ kind: 'hide' as const }),
  fc.constant({ kind: 'restore' as const }),
  fc.record({ kind: fc.constant('drop' as const), client: fc.nat(CLIENTS - 1) }),
  fc.record({ kind: fc.constant('rejoin' as const), client: fc.nat(CLIENTS - 1) })
)

t.test('whatever is written, dropped and resumed, each reader receives the committed log exactly', async (t) => {
  const { app } = await buildTestApp(t)
  const host = await listen(app)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const moderator = await makeUser(app, 'moderator')

  const details = await fc.check(fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
    const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Property', body: 'Start.' } })).json()
    const posts: number[] = []
    // Each reader: the events of all its connections, and the one open now.
    const readers = Array.from({ length: CLIENTS }, () => ({ received: [] as number[], client: null as LiveClient | null, lastSeq: 0 }))
    const connect = async (reader: typeof readers[number]) => {
      const client = openLive(host, thread.id, { since: reader.lastSeq })
      client.ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string, seq?: number }
        if (frame.seq !== undefined) {
          reader.received.push(frame.seq)
          reader.lastSeq = frame.seq
        }
      })
      reader.client = client
      await client.opened
    }
    for (const reader of readers) await connect(reader)

    const writes: Promise<unknown>[] = []
    for (const step of ops) {
      const target = posts.length > 0 ? posts[posts.length - 1]! : undefined
      switch (step.kind) {
        case 'post':
          writes.push(app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: (step.by === 'tech' ? tech : customer).auth, payload: { body: `post ${posts.length}` } })
            .then((res) => { if (res.statusCode === 201) posts.push(res.json().id) }))
          break
        case 'edit':
          if (target !== undefined) writes.push(app.inject({ method: 'PATCH', url: `/api/v1/posts/${target}`, headers: moderator.auth, payload: { body: `edited ${Math.random()}` } }))
          break
        case 'hide':
          if (target !== undefined) writes.push(app.inject({ method: 'POST', url: `/api/v1/posts/${target}/hide`, headers: moderator.auth, payload: { reason: 'test' } }))
          break
        case 'restore':
          if (target !== undefined) writes.push(app.inject({ method: 'POST', url: `/api/v1/posts/${target}/restore`, headers: moderator.auth }))
          break
        case 'drop': {
          const reader = readers[step.client]!
          if (reader.client !== null) {
            const closed = reader.client.closed
            reader.client.ws.close()
            await closed
            reader.client = null
          }
          break
        }
        case 'rejoin': {
          const reader = readers[step.client]!
          if (reader.client === null) await connect(reader)
          break
        }
      }
    }
    await Promise.all(writes)
    for (const reader of readers) if (reader.client === null) await connect(reader)

    const { last_seq: lastSeq } = await app.db.selectFrom('threads').select('last_seq').where('id', '=', thread.id).executeTakeFirstOrThrow()
    const deadline = Date.now() + 5000
    while (readers.some((r) => r.lastSeq < lastSeq) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    const expected = Array.from({ length: lastSeq }, (_, i) => i + 1)
    for (const reader of readers) {
      if (JSON.stringify(reader.received) !== JSON.stringify(expected)) {
        throw new Error(`received ${JSON.stringify(reader.received)}, log has 1..${lastSeq}`)
      }
      reader.client?.ws.close()
    }
  }), { numRuns: 15 })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? 'every reader saw every seq once, in order')
  t.equal(details.numRuns, 15, 'every run was made')
})
