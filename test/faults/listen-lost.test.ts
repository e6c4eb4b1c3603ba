import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import WebSocket from 'ws'
import { buildSecondInstance, buildTestApp, makeUser } from '../helpers/app.ts'
import { LISTEN_APPLICATION_NAME } from '../../src/db/notifications.ts'
import { onDatabaseServer } from '../helpers/database.ts'
import { listen, openLive, until } from '../helpers/live.ts'
import { signIn } from '../helpers/pages.ts'

// Each instance hears the others' events, and changes to accounts, on one
// LISTEN connection. A firewall, a failover or an operator may cut it: what
// was said meanwhile went unheard, and must not stay unseen once it is back.
if (onDatabaseServer(t, 'the embedded database has no LISTEN connection to lose')) {
  /** Cuts every LISTEN connection to the test's database, again and again until stopped. */
  function cutListening (app: FastifyInstance): () => Promise<void> {
    const cut = () => sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and application_name = ${LISTEN_APPLICATION_NAME}`.execute(app.db)
    let cutting = true
    const loop = (async () => {
      while (cutting) {
        await cut()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    return async () => {
      cutting = false
      await loop
    }
  }

  t.test('a post made on another instance while this one did not listen is on its pages once it listens again', async (t) => {
    const first = await buildTestApp(t)
    const second = await buildSecondInstance(t, first)
    const tech = await makeUser(first.app, 'technician')
    const thread = (await first.app.inject({ method: 'POST', url: `/api/v1/threads`, headers: tech.auth, payload: { title: 'Fibre cut', body: 'The uplink is down.' } })).json()
    const cookies = await signIn(second, await makeUser(first.app, 'customer'))
    // The second instance keeps the pages, for anonymous and signed-in readers.
    const pages = () => Promise.all([second.inject({ url: `/t/${thread.id}` }), second.inject({ url: `/t/${thread.id}`, cookies }), second.inject({ url: '/' })])
    for (const page of [...await pages(), ...await pages()]) t.equal(page.statusCode, 200)

    const stop = cutListening(first.app)
    t.ok(await until(() => !second.notifications.listening), 'the second instance lost its LISTEN connection')
    const posted = await first.app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Splice crew on site.', status: 'identified' } })
    t.equal(posted.statusCode, 201)
    t.notOk(second.notifications.listening, 'the post committed while it did not listen')
    await stop()
    t.ok(await until(() => second.notifications.listening, 15_000), 'it listens again')

    const [anonymous, signedIn, list] = await pages()
    t.match(anonymous.body, /Splice crew on site\./, 'an anonymous reader finds the post at once, not half a minute later')
    t.match(signedIn.body, /Splice crew on site\./, 'so does a signed-in one')
    t.match(list.body, /Identified/, 'and the incident list its new status')
  })

  t.test('a moderator demoted while the instance did not listen loses their live socket once it listens again', async (t) => {
    const { app } = await buildTestApp(t)
    const tech = await makeUser(app, 'technician')
    const moderator = await makeUser(app, 'moderator')
    const admin = await makeUser(app, 'admin')
    const thread = (await app.inject({ method: 'POST', url: `/api/v1/threads`, headers: tech.auth, payload: { title: 'Fibre cut', body: 'The uplink is down.' } })).json()
    const host = await listen(app)
    const cookie = Object.entries(await signIn(app, moderator)).map(([name, value]) => `${name}=${value}`).join('; ')
    const asModerator = openLive(host, thread.id, { headers: { cookie } })
    const anonymous = openLive(host, thread.id)
    await Promise.all([asModerator.opened, anonymous.opened])

    const stop = cutListening(app)
    t.ok(await until(() => !app.notifications.listening), 'the instance lost its LISTEN connection')
    const demoted = await app.inject({ method: 'PATCH', url: `/api/v1/users/${moderator.actor.id}`, headers: admin.auth, payload: { role: 'customer' } })
    t.equal(demoted.statusCode, 200)
    t.notOk(app.notifications.listening, 'demoted while it did not listen')
    await stop()
    t.ok(await until(() => app.notifications.listening, 15_000), 'it listens again')

    const closed = await Promise.race([asModerator.closed, new Promise((resolve) => setTimeout(() => resolve(null), 3_000))])
    t.same(closed, { code: 4001, reason: 'account changed, reconnect' }, 'the socket that would show them hidden posts is closed, to reconnect as what they are now')
    t.equal(anonymous.ws.readyState, WebSocket.OPEN, 'an anonymous reader keeps theirs')
    anonymous.ws.close()
    asModerator.ws.close()
  })
}
