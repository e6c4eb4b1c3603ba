import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { appOnCluster, serverBinariesAvailable } from '../helpers/cluster.ts'
import { apiAs, sectionById, signIn } from '../helpers/pages.ts'
import { waitUntil } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  // An app in this process on a private cluster: the test moves the app's clock
  // to make its cached pages old, and crashes the database under it.
  const { cluster, app, clock, advance } = await appOnCluster(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Chiller failure in hall B', body: 'Hall B is running hot.' })
  const neverShown = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail delays', body: 'Queues are long.' })

  t.test('while the database is away, readers still get the pages already rendered, marked "as of" when they were', async (t) => {
    const before = clock()
    const english = await app.inject({ url: `/t/${thread.id}` })
    const after = clock()
    const french = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })
    t.equal(english.statusCode, 200)
    t.notMatch(english.body, /notice--as-of/, 'no notice while all is well')

    const customerCookies = await signIn(app, await makeUser(app, 'customer'))
    await cluster.crash()
    const soon = await app.inject({ url: `/t/${thread.id}` })
    t.equal(soon.statusCode, 200, 'a page rendered moments ago is served as it is')
    t.equal(soon.headers.etag, english.headers.etag)

    advance(5 * 60_000)
    const later = await app.inject({ url: `/t/${thread.id}` })
    t.equal(later.statusCode, 200, 'minutes later, the page is still served rather than an error')
    t.match(later.body, /Hall B is running hot\./, 'with what it said')
    const notice = sectionById(later.body.replace('class="notice notice--as-of"', 'id="as-of" class="notice notice--as-of"'), 'as-of')
    t.match(notice, /this page is as it was at <time datetime="[^"]+"/, 'and says it is not live, and since when')
    const asOf = Date.parse(/datetime="([^"]+)"/.exec(notice)?.[1] ?? '')
    t.ok(asOf >= before - 1000 && asOf <= after, 'the time it was rendered, not the time it is served')
    t.match(notice, /role="status"/, 'announced to screen readers')
    t.not(later.headers.etag, english.headers.etag, 'its own ETag: a cache in front does not mix it up with the live page')
    t.equal(later.headers['cache-control'], 'public, max-age=5, stale-while-revalidate=30, stale-if-error=86400')

    const frenchLater = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })
    t.equal(frenchLater.statusCode, 200)
    t.match(frenchLater.body, /cette page date du <time/, 'in French for French readers')
    t.not(french.body, frenchLater.body)

    // A customer signed in before the outage: who they are cannot be checked, the page kept for everyone can be shown.
    const signedIn = await app.inject({ url: `/t/${thread.id}`, cookies: customerCookies })
    t.equal(signedIn.statusCode, 200, 'a signed-in reader gets the kept page too, not an error')
    t.match(signedIn.body, /Hall B is running hot\./, 'the same page')
    t.match(signedIn.body, /notice--as-of/, 'as of when it was rendered')

    const missing = await app.inject({ url: `/t/${neverShown.id}` })
    t.equal(missing.statusCode, 503, 'a page never rendered cannot be made up: 503')
    t.equal(missing.headers['retry-after'], '5')
    t.match(missing.body, /The database does not answer/)

    await cluster.start()
    // The next reader brings the page back to life; until it is rendered, the marked one is served.
    await waitUntil('the live page to come back', async () => {
      const res = await app.inject({ url: `/t/${thread.id}` })
      return res.statusCode === 200 && !res.body.includes('notice--as-of')
    })
    const back = await app.inject({ url: `/t/${thread.id}` })
    t.match(back.body, /Hall B is running hot\./)
    t.notMatch(back.body, /notice--as-of/, 'the notice is gone once the database answers')
  })

  t.test('once the database is back, whoever posts finds the post on the next page, not the page kept "as of"', async (t) => {
    t.equal((await app.inject({ url: `/t/${thread.id}` })).statusCode, 200)
    await cluster.crash()
    advance(5 * 60_000)
    t.match((await app.inject({ url: `/t/${thread.id}` })).body, /notice--as-of/, 'while it is away, the page kept')
    await cluster.start()
    await waitUntil('the database to answer', async () => (await app.inject({ url: '/readyz' })).statusCode === 200)
    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Chillers restarted, hall B cooling down.' })
    for (const page of await Promise.all([1, 2, 3].map(() => app.inject({ url: `/t/${thread.id}` })))) {
      t.match(page.body, /Chillers restarted, hall B cooling down\./, 'the post is on the page')
      t.notMatch(page.body, /notice--as-of/, 'which is live')
    }
  })
}
