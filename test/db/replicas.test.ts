import net from 'node:net'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { caughtUp, type Cluster, serverBinariesAvailable, sqlOn, startCluster } from '../helpers/cluster.ts'
import { apiAs } from '../helpers/pages.ts'
import { waitUntil } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  // A primary and a hot standby of it, each a private cluster: the test pauses
  // the standby's replay (a replica lagging behind) and crashes it.
  const primary = await startCluster(t)
  const databaseUrl = await primary.createDatabase('sitrep')
  const standby = await startCluster(t, { standbyOf: primary })
  const replicaUrl = standby.url('sitrep')

  let offset = 0
  const clock = { now: () => new Date(Date.now() + offset) }
  /** Past the age at which a kept page is rendered again before it is served. */
  const ageThePages = () => { offset += 61_000 }

  async function startApp (replica = replicaUrl): Promise<FastifyInstance> {
    const config = { ...loadConfig({ SESSION_SECRET: 'test-secret-that-is-long-enough-for-hmac' }), databaseUrl, databaseReplicaUrls: [replica] }
    const app = await buildApp(config, { now: () => clock.now(), postingLimits: [] })
    t.teardown(() => app.close())
    return app
  }

  async function pauseReplay (standby: Cluster): Promise<void> {
    await sqlOn(standby.url(), 'select pg_wal_replay_pause()')
    await waitUntil('the standby to pause', async () =>
      (await sqlOn<{ state: string }>(standby.url(), 'select pg_get_wal_replay_pause_state() as state'))[0]?.state === 'paused')
  }

  const resumeReplay = async (standby: Cluster) => { await sqlOn(standby.url(), 'select pg_wal_replay_resume()') }

  /** A change on the primary made by hand, with no event: readers see it only where the primary is read. */
  const retitleByHand = (threadId: number, title: string) => sqlOn(databaseUrl, 'update threads set title = $1 where id = $2', [title, threadId])

  const app = await startApp()
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Cooling lost in room 3', body: 'Room 3 is running hot.' })
  const page = (url: string) => app.inject({ url })

  t.test('readers\' pages are read from the replica once it holds every event known', async (t) => {
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    t.teardown(() => resumeReplay(standby))
    await retitleByHand(thread.id, 'Retitled on the primary alone')
    ageThePages()

    const threadPage = await page(`/t/${thread.id}`)
    t.equal(threadPage.statusCode, 200)
    t.match(threadPage.body, /Cooling lost in room 3/, 'the thread page comes from the replica')
    t.notMatch(threadPage.body, /Retitled on the primary alone/)
    t.match((await page('/')).body, /Cooling lost in room 3/, 'the incident list too')
    t.match((await page(`/t/${thread.id}/timeline`)).body, /Cooling lost in room 3/, 'the printable timeline too')
    t.match((await page(`/t/${thread.id}/feed.atom`)).body, /Cooling lost in room 3/, 'and the feeds')
    const api = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json() as Thread
    t.equal(api.title, 'Retitled on the primary alone', 'the API reads the primary: a script sees its own changes at once')
    await retitleByHand(thread.id, 'Cooling lost in room 3')
  })

  t.test('while the replica lags, an acknowledged post is on the next page all the same', async (t) => {
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    t.teardown(() => resumeReplay(standby))

    const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Second chiller started at 14:05.' })
    t.ok(update.id > 0, 'the update is acknowledged')
    const threadPage = await page(`/t/${thread.id}`)
    t.match(threadPage.body, /Second chiller started at 14:05\./, 'the thread page shows it, read from the primary')
    t.match((await page(`/t/${thread.id}?view=official`)).body, /Second chiller started at 14:05\./, 'the official view too')
    t.match((await page(`/t/${thread.id}/timeline`)).body, /Second chiller started at 14:05\./, 'and the timeline')
    t.match((await page(`/t/${thread.id}/feed.atom`)).body, /Second chiller started at 14:05\./, 'and the thread\'s feed')

    const newer = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail delayed', body: 'Outgoing mail is queued.' })
    const newPage = await page(`/t/${newer.id}`)
    t.equal(newPage.statusCode, 200, 'an incident the replica has not seen yet is no 404')
    t.match(newPage.body, /Outgoing mail is queued\./)
    t.match((await page('/')).body, /Mail delayed/, 'and it is on the incident list')
    t.match((await page('/feed.atom')).body, /Mail delayed/, 'and the site feed')
    t.equal((await page('/t/999999')).statusCode, 404, 'an incident that exists nowhere is still a 404')

    // Caught up again, the replica is read again.
    await resumeReplay(standby)
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    await retitleByHand(newer.id, 'Retitled on the primary alone')
    ageThePages()
    t.match((await page(`/t/${newer.id}`)).body, /Mail delayed/, 'once it has caught up, the replica is read again')
  })

  t.test('an instance started while its replica lags shows what was posted before it started', async (t) => {
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    t.teardown(() => resumeReplay(standby))
    const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Room 3 back under 25 degrees.' })
    t.ok(update.id > 0)

    const second = await startApp()
    const res = await second.inject({ url: `/t/${thread.id}` })
    t.equal(res.statusCode, 200)
    t.match(res.body, /Room 3 back under 25 degrees\./, 'the new instance knows the thread\'s latest event from the primary, and does not read the lagging replica')
  })

  t.test('another instance\'s readers find an acknowledged post too, on pages read for their request', async (t) => {
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    t.teardown(() => resumeReplay(standby))
    const other = await startApp()
    t.match((await other.inject({ url: `/t/${thread.id}/timeline` })).body, /Cooling lost in room 3/)
    const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Cold aisle at 24 degrees.' })
    t.ok(update.id > 0, 'acknowledged by the first instance')
    // Asked at once of the other, before it may have heard of the post.
    t.match((await other.inject({ url: `/t/${thread.id}/timeline` })).body, /Cold aisle at 24 degrees\./, 'the other instance\'s timeline has it')
    t.match((await other.inject({ url: `/t/${thread.id}?after=0` })).body, /Cold aisle at 24 degrees\./, 'and its thread read from the start')
  })

  /**
   * A TCP relay to the standby that can go silent, as a network cut in two or a
   * frozen server does: connections stay open, and nothing more goes through.
   */
  async function silentRelay (t: Test, port: number): Promise<{ url: string, silence: () => void }> {
    let silent = false
    const pairs: net.Socket[][] = []
    const server = net.createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1')
      for (const socket of [client, upstream]) socket.on('error', () => {})
      pairs.push([client, upstream])
      if (silent) return
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      for (const socket of pairs.flat()) socket.destroy()
      server.close()
    })
    return {
      url: `postgres://postgres@127.0.0.1:${(server.address() as net.AddressInfo).port}/sitrep`,
      silence: () => {
        silent = true
        for (const [client, upstream] of pairs) {
          client!.unpipe()
          upstream!.unpipe()
        }
      }
    }
  }

  t.test('a replica gone silent keeps no reader waiting: the primary answers', async (t) => {
    await caughtUp(primary, standby)
    const relay = await silentRelay(t, standby.port)
    const behindRelay = await startApp(relay.url)
    t.match((await behindRelay.inject({ url: `/t/${thread.id}/timeline` })).body, /Cooling lost in room 3/, 'read through the relay while it passes things on')
    relay.silence()
    const update = await apiAs<Post>(behindRelay, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Generator test at 16:00.' })
    t.ok(update.id > 0)
    const timeline = await behindRelay.inject({ url: `/t/${thread.id}/timeline` })
    t.equal(timeline.statusCode, 200, 'the timeline comes')
    t.match(timeline.body, /Generator test at 16:00\./)
    const threadPage = await behindRelay.inject({ url: `/t/${thread.id}` })
    t.equal(threadPage.statusCode, 200, 'and so does the thread page')
    t.match(threadPage.body, /Generator test at 16:00\./)
  })

  t.test('a replica that fails is passed over for the primary, and read again once it is back', async (t) => {
    await caughtUp(primary, standby)
    await standby.crash()
    const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Night shift taking over.' })
    t.ok(update.id > 0)
    ageThePages()
    const threadPage = await page(`/t/${thread.id}`)
    t.equal(threadPage.statusCode, 200, 'readers get their pages from the primary')
    t.match(threadPage.body, /Night shift taking over\./)
    t.equal((await page('/')).statusCode, 200)

    await standby.start()
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    t.teardown(() => resumeReplay(standby))
    await retitleByHand(thread.id, 'Retitled on the primary alone')
    // Past the few seconds a failed replica rests.
    ageThePages()
    t.match((await page(`/t/${thread.id}`)).body, /Cooling lost in room 3/, 'once back, the replica is read again')
  })
}
