import t from 'tap'
import { serverBinariesAvailable, startCluster } from '../helpers/cluster.ts'
import { call, makeAccount, ready, startServer, waitUntil } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  // After an outage the machines come back in any order: an instance may start
  // before its database does. It must wait for it, not exit, and serve once it
  // is there.

  const cluster = await startCluster(t)
  const databaseUrl = await cluster.createDatabase('sitrep')
  await cluster.crash()

  const WAITING = 'the database cannot be reached yet; waiting for it'

  t.test('an instance started while its database is down waits for it, then serves', async (t) => {
    const server = await startServer(t, databaseUrl, { untilServing: false })
    await waitUntil('the instance to say it waits for its database', () => server.output().includes(WAITING))
    // Several tries later: the first ones come a quarter of a second apart.
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    t.ok(server.alive(), 'it is still running')
    // Up, for a liveness probe that would otherwise restart it through the outage; not ready, for the load balancer.
    const health = await fetch(`${server.base}/healthz`)
    t.equal(health.status, 200, '/healthz: the process is up')
    const readiness = await fetch(`${server.base}/readyz`)
    t.equal(readiness.status, 503, '/readyz: not ready')
    t.equal(readiness.headers.get('retry-after'), '5')
    t.same(await readiness.json(), { error: { code: 'database_unavailable', message: 'The database does not answer. Try again in a moment.' } })
    const inFrench = await fetch(`${server.base}/readyz`, { headers: { 'accept-language': 'fr' } })
    t.same(await inFrench.json(), { error: { code: 'database_unavailable', message: 'La base de données ne répond pas. Réessayez dans un instant.' } }, 'and to an operator reading French, in French')
    const api = await fetch(`${server.base}/api/v1/threads`, { headers: { 'accept-language': 'fr' } })
    t.equal(api.status, 503, 'a request is told to come back')
    t.match((await api.json()).error.message, /La base de données ne répond pas/, 'in its reader\'s language')
    const waitingPage = await fetch(`${server.base}/`, { headers: { accept: 'text/html' } })
    t.equal(waitingPage.status, 503, 'a page too')
    t.match(await waitingPage.text(), /The database does not answer\. Try again in a moment\./)
    t.equal(server.output().split(WAITING).length - 1, 1, 'it says so once, not at every try')

    await cluster.start()
    await ready(server.base)
    // A forum with nobody yet: the person at the terminal is told how to make the first admin, beside the log, not in it.
    await waitUntil('the server to say how to make the first admin', () => server.output().includes('No user yet. Create the first admin with:'))
    t.notMatch(server.stdout(), /No user yet/, 'on standard error')
    // Whole lines only: the last may still be arriving.
    for (const line of server.stdout().split('\n').slice(0, -1).filter((line) => line !== '')) t.doesNotThrow(() => JSON.parse(line), 'standard output is JSON log lines alone')
    const tech = await makeAccount(databaseUrl, 'technician', 'day@example.org')
    const opened = await call(server.base, 'POST', '/api/v1/threads', { token: tech.token, json: { title: 'Power restored in hall 2', body: 'Servers are booting.' } })
    t.equal(opened.status, 201, 'a technician can post once the database is back')
    const page = await call(server.base, 'GET', `/t/${opened.json.id as number}`)
    t.equal(page.status, 200)
    t.match(page.text, 'Power restored in hall 2', 'readers see the incident')
    t.notMatch(server.output(), /could not start|exited/, 'it never stopped')
  })

  t.test('told to stop while it waits, it exits at once, cleanly', async (t) => {
    await cluster.crash()
    const server = await startServer(t, databaseUrl, { untilServing: false })
    await waitUntil('the instance to say it waits for its database', () => server.output().includes(WAITING))
    // The database stays down: an instance that waited for it would never exit.
    t.equal(await server.stop(), 0, 'it exits with 0, without waiting for the database')
  })

  t.test('a database that refuses it stops it with one clear line', async (t) => {
    await cluster.start()
    const server = await startServer(t, cluster.url('no_such_database'), { untilServing: false })
    await waitUntil('the instance to stop', () => !server.alive())
    t.match(server.output(), /sitrep: could not start: database "no_such_database" does not exist/)
    t.notMatch(server.output(), WAITING, 'waiting would not mend it: it does not wait')
    t.equal(await server.stop(), 1, 'it exits with 1')
  })
}
