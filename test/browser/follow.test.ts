import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { browserAvailable, startSite } from '../helpers/browser.ts'
import { apiAs } from '../helpers/pages.ts'
import { startMailbox } from '../helpers/smtp.ts'

if (browserAvailable(t)) {
  const mailbox = await startMailbox(t)
  const site = await startSite(t, { env: { SMTP_URL: mailbox.url } })
  const { app } = site
  const tech = await makeUser(app, 'technician', { name: 'Dana Day', shift: 'day' })
  const customer = await makeUser(app, 'customer', { name: 'Cleo Customer', email: 'cleo@example.org' })
  /** The path of the link to `path` in the last e-mail: the links name PUBLIC_URL, the test site listens elsewhere. */
  const linkInLastMail = (path: string) => {
    const match = new RegExp(`https?://[^/\\s]+(${path}/[^\\s>]+)`).exec(mailbox.received.at(-1)?.text ?? '')
    if (match === null) throw new Error(`no ${path} link in the last e-mail`)
    return match[1]!
  }

  t.test('a customer follows an incident by e-mail, confirms their address from another device, gets an update and stops it from the e-mail', async (t) => {
    const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    const box = page.locator('#follow')
    await Promise.all([page.waitForURL(/#follow$/), box.getByRole('button', { name: 'Follow by e-mail' }).click()])
    t.match(await box.innerText(), /Confirm your address first: we sent a link to cleo@example\.org\./)
    t.equal(mailbox.received.length, 1, 'the link to confirm it')

    // The link, opened on a phone where nobody is signed in.
    const phone = await site.open()
    t.teardown(() => phone.context.close())
    await phone.page.goto(linkInLastMail('/confirm-email'))
    await phone.page.getByRole('button', { name: 'Confirm my address' }).click()
    t.match(await phone.page.locator('[role="status"]').innerText(), /Your address is confirmed\./)

    await page.reload()
    t.match(await box.innerText(), /You get an e-mail at each official update of this incident\./)

    await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'A spare switch is on its way.', status: 'identified' })
    t.equal(await app.sendNews(), 1)
    t.match(mailbox.received.at(-1)?.text, /A spare switch is on its way\./)

    await phone.page.goto(linkInLastMail('/unsubscribe'))
    await phone.page.getByRole('button', { name: 'Stop the e-mails' }).click()
    t.match(await phone.page.locator('[role="status"]').innerText(), /You will get no more e-mails about Campus network down\./)
    await page.reload()
    t.equal(await box.getByRole('button', { name: 'Follow by e-mail' }).count(), 1, 'the page offers to follow it again')
  })
}
