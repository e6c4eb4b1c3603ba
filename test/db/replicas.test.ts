import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { NOT_SHEDDING, makeUser } from '../helpers/app.ts'
import { caughtUp, type Cluster, serverBinariesAvailable, sqlOn, startCluster } from '../helpers/cluster.ts'
import { apiAs } from '../helpers/pages.ts'
import { relayTo } from '../helpers/relay.ts'
import { waitUntil } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  // A primary and a hot standby of it, each a private cluster: the test pauses
  // the standby's replay (a replica lagging behind) and crashes it.
  const primary = await startCluster(t)
  const databaseUrl = await primary.createDatabase('sitrep')
  const standby = await startCluster(t, { standbyOf: primary })
  const relay = await relayTo(t, standby.url('sitrep'))

  let offset = 0
  const clock = { now: () => new Date(Date.now() + offset) }
  /** Past the age at which a kept page is rendered again before it is served. */
  const ageThePages = () => { offset += 61_000 }

  async function startApp (replicaUrl = relay.url): Promise<FastifyInstance> {
    const config = { ...loadConfig({ SESSION_SECRET: 'test-secret-that-is-long-enough-for-hmac' }), databaseUrl, databaseReplicaUrls: [replicaUrl] }
    const app = await buildApp(config, { ...NOT_SHEDDING, now: () => clock.now(), postingLimits: [] })
    t.teardown(() => app.close())
    return app
  }

  async function pauseReplay (standby: Cluster): Promise<void> {
    await sqlOn(standby.url(), 'select pg_wal_replay_pause()')
    await waitUntil('the standby to pause', async () =>
      (await sqlOn<{ state: string }>(standby.url(), 'select pg_get_wal_replay_pause_state() as state'))[0]?.state === 'paused')
  }

  const resumeReplay = async (standby: Cluster) => { await sqlOn(standby.url(), 'select pg_wal_replay_resume()') }

  /** Whether the replica was asked for what a page shows (its posts, its incidents), not only how far it has come. */
  const readFromReplica = () => /from "(posts|threads)"/.test(relay.asked())

  const app = await startApp()
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Cooling lost in room 3', body: 'Room 3 is running hot.' })
  const page = (url: string) => app.inject({ url })

  t.test('readers\' pages are read from the replica once it holds all the primary holds', async (t) => {
    await caughtUp(primary, standby)
    for (const url of [`/t/${thread.id}/timeline`, `/t/${thread.id}/feed.atom`, '/feed.atom', `/t/${thread.id}?after=0`]) {
      relay.forget()
      const res = await page(url)
      t.equal(res.statusCode, 200)
      t.match(res.body, /Cooling lost in room 3/)
      t.ok(readFromReplica(), `${url} is read from the replica`)
    }
    relay.forget()
    ageThePages()
    t.match((await page(`/t/${thread.id}`)).body, /Room 3 is running hot\./)
    t.match((await page('/')).body, /Cooling lost in room 3/)
    t.ok(readFromReplica(), 'and the cached pages, the thread and the incident list, when they are made again')
    relay.forget()
    const api = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json() as Thread
    t.equal(api.title, 'Cooling lost in room 3')
    t.notOk(readFromReplica(), 'the API reads the primary: a script sees its own changes at once')
  })

  t.test('while the replica lags, an acknowledged post is on the next page all the same', async (t) => {
    await caughtUp(primary, standby)
    await pauseReplay(standby)
    t.teardown(() => resumeReplay(standby))

    const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Second chiller started at 14:05.' })
    t.ok(update.id > 0, 'the update is acknowledged')
    relay.forget()
    t.match((await page(`/t/${thread.id}`)).body, /Second chiller started at 14:05\./, 'the thread page shows it, read from the primary')
    t.match((await page(`/t/${thread.id}?view=official`)).body, /Second chiller started at 14:05\./, 'the official view too')
    t.match((await page(`/t/${thread.id}/timeline`)).body, /Second chiller started at 14:05\./, 'and the timeline')
    t.match((await page(`/t/${thread.id}/feed.atom`)).body, /Second chiller started at 14:05\./, 'and the thread\'s feed')
    t.notOk(readFromReplica(), 'the lagging replica was asked how far it had come, and nothing else')

    // A change with no event (a user renamed by hand, say) makes the replica lag as much.
    await sqlOn(databaseUrl, 'update users set name = $1 where id = $2', ['Tess Renamed', tech.actor.id])
    t.match((await page(`/t/${thread.id}/timeline`)).body, /Tess Renamed/, 'what changed with no event shows at once too')

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
    relay.forget()
    t.match((await page(`/t/${newer.id}/timeline`)).body, /Mail delayed/)
    t.ok(readFromReplica(), 'once it has caught up, the replica is read again')
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

  t.test('a replica gone silent keeps no reader waiting: the primary answers', async (t) => {
    await caughtUp(primary, standby)
    const silent = await relayTo(t, standby.url('sitrep'))
    const behindRelay = await startApp(silent.url)
    t.match((await behindRelay.inject({ url: `/t/${thread.id}/timeline` })).body, /Cooling lost in room 3/, 'read through the relay while it passes things on')
    silent.silence()
    const update = await apiAs<Post>(behindRelay, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Generator test at 16:00.' })
    t.ok(update.id > 0)
    const timeline = await behindRelay.inject({ url: `/t/${thread.id}/timeline` })
    t.equal(timeline.statusCode, 200, 'the timeline comes')
    t.match(timeline.body, /Generator test at 16:00\./)
    const threadPage = await behindRelay.inject({ url: `/t/${thread.id}` })
    t.equal(threadPage.statusCode, 200, 'and so does the thread page')
    t.match(threadPage.body, /Generator test at 16:00\./)
  })

  t.test('a replica that fails is passed over for the primary for a while, and read again once it is back', async (t) => {
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
    relay.forget()
    t.match((await page(`/t/${thread.id}/timeline`)).body, /Night shift taking over\./)
    t.notOk(/pg_last_wal_replay_lsn/.test(relay.asked()), 'for a few seconds after failing, the replica rests: it is not even asked')
    offset += 10_000
    relay.forget()
    t.match((await page(`/t/${thread.id}/timeline`)).body, /Night shift taking over\./)
    t.ok(readFromReplica(), 'then it is read again')
  })
}
