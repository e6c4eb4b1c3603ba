import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { browserAvailable, launchBrowser, serveTo } from '../helpers/browser.ts'
import { appOnCluster, serverBinariesAvailable } from '../helpers/cluster.ts'
import { apiAs } from '../helpers/pages.ts'
import { waitUntil } from '../helpers/server.ts'

// A page served "as of" while the database was away catches up by itself
// once it is back, and then says so no more: the app runs on a private
// cluster this test crashes and starts again.
if (browserAvailable(t) && serverBinariesAvailable(t)) {
  const browser = await launchBrowser(t)
  const { cluster, app, advance } = await appOnCluster(t)
  const site = await serveTo(browser, app)
  const tech = await makeUser(app, 'technician', { name: 'Hugo Hall' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Chiller failure in hall B', body: 'Hall B is running hot.' })

  t.test('the "as of" notice goes once the live stream has brought the page up to date', async (t) => {
    t.equal((await app.inject({ url: `/t/${thread.id}` })).statusCode, 200, 'the page is rendered, and kept')
    await cluster.crash()
    advance(5 * 60_000)

    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await page.goto(`/t/${thread.id}`)
    const notice = page.locator('.notice--as-of')
    t.match(await notice.textContent(), /this page is as it was at/, 'the page says it is not up to date')
    // Set on this document: still there at the end means the page was never reloaded.
    await page.evaluate(() => { (window as unknown as { kept: boolean }).kept = true })

    await cluster.start()
    await waitUntil('the database to take posts again', async () => {
      try {
        await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Chiller restarted, temperature falling.' })
        return true
      } catch {
        return false
      }
    })
    await page.locator('#posts .post__body', { hasText: 'Chiller restarted' }).first().waitFor({ timeout: 40_000 })
    await t.resolves(notice.waitFor({ state: 'detached', timeout: 5000 }), 'the notice is gone once the page has caught up')
    t.equal(await page.evaluate(() => (window as unknown as { kept?: boolean }).kept), true, 'without a reload')
  })
}
