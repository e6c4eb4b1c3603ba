import t from 'tap'
import { PASSWORD, buildTestApp, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { inFuture, openThread, writePost } from '../helpers/api.ts'
import { sectionById, signIn } from '../helpers/pages.ts'
import { startMailbox } from '../helpers/smtp.ts'

const mailbox = await startMailbox(t)
const received = mailbox.received

const { app, advance } = await buildTestApp(t, { env: { SMTP_URL: mailbox.url, TZ_DISPLAY: 'Europe/Paris', MAIL_FROM: '"Astreinte DC-2" <astreinte@example.org>' } })
const technician = await makeUser(app, 'technician', { name: 'Tom Tech', email: 'tom@example.org' })
const french = await makeUser(app, 'technician', { name: 'Françoise', email: 'francoise@example.org', shift: 'night' })
await app.db.updateTable('users').set({ locale: 'fr' }).where('id', '=', french.actor.id).execute()
const offDuty = await makeUser(app, 'moderator', { email: 'off@example.org' })
const customer = await makeUser(app, 'customer')

const thread = await openThread(app, technician, { title: 'Mail relay down' })
await writePost(app, technician, thread.id, { body: 'Restarting the relay.', nextUpdateAt: inFuture(15 * 60_000, app.deps.now().getTime()) })

t.test('before the promised time, nothing is overdue', async (t) => {
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'next-update'), /Next update due by .*\(in 15 min\)/)
  t.notMatch((await app.inject({ url: '/', cookies: await signIn(app, technician) })).body, /id="staff-alerts"/, 'no banner for staff')
  t.equal(await app.checkOverdue(), 0, 'no alert')
})

t.test('once the promised time passes, the page says so, and staff see a banner everywhere', async (t) => {
  advance(20 * 60_000)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'next-update'), /Update overdue by 5 min/)
  const staffCookies = await signIn(app, offDuty)
  for (const path of ['/', `/t/${thread.id}`, `/t/${thread.id}/timeline`]) {
    const banner = sectionById((await app.inject({ url: path, cookies: staffCookies })).body, 'staff-alerts')
    t.match(banner, /Overdue updates/, `a banner on ${path}`)
    t.match(banner, new RegExp(`href="/t/${thread.id}"><bdi>Mail relay down</bdi>: update overdue by 5 min`))
  }
  t.match(sectionById((await app.inject({ url: '/?lang=fr', cookies: staffCookies })).body, 'staff-alerts'), /Points en retard/)
  t.notMatch((await app.inject({ url: '/', cookies: await signIn(app, customer) })).body, /staff-alerts/, 'not for customers')
  t.notMatch((await app.inject({ url: '/' })).body, /staff-alerts/, 'nor for readers')
})

t.test('the on-duty staff get one e-mail per promise, in their language', async (t) => {
  for (const user of [technician, french]) {
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: user.auth })).statusCode, 200)
  }
  t.equal(await app.checkOverdue(), 2, 'one e-mail to each of the two on duty')
  t.equal(await app.checkOverdue(), 0, 'and no second one for the same promise')
  t.equal(received.length, 2)
  const byRecipient = new Map(received.map((mail) => [mail.to && !Array.isArray(mail.to) ? mail.to.text : '', mail]))
  t.same([...byRecipient.keys()].sort(), ['francoise@example.org', 'tom@example.org'], 'not to staff off duty')
  const english = byRecipient.get('tom@example.org')!
  t.same(english.from?.value, [{ name: 'Astreinte DC-2', address: 'astreinte@example.org' }], 'from the sender MAIL_FROM names')
  t.equal(english.subject, 'Update overdue: Mail relay down', 'the title as it is: no invisible marks a spam filter would hold against it')
  t.equal(english.headers.get('auto-submitted'), 'auto-generated', 'sent by a program: no out-of-office reply to it')
  t.match(english.text, /was promised for \w+,? [^\n]*\d{4}[^\n]* \d\d:\d\d (CET|CEST|GMT\+\d) and is overdue by 5 min/, 'the promised time in full, its date and zone named')
  t.match(english.text, new RegExp(`http://127\\.0\\.0\\.1:3000/t/${thread.id}`))
  const inFrench = byRecipient.get('francoise@example.org')!
  t.equal(inFrench.subject, 'Point en retard\u00a0: Mail relay down')
  t.match(inFrench.text, /Le prochain point de «\u00a0\u2068Mail relay down\u2069\u00a0» était prévu le \w+ \d+ [^\n]*\d{4}[^\n]* \d\d:\d\d UTC\+\d et a 5\u00a0min de retard\./)
})

t.test('a new promise that passes alerts again; with nobody on duty, every staff member', async (t) => {
  await writePost(app, technician, thread.id, { body: 'Still on it.', nextUpdateAt: inFuture(10 * 60_000, app.deps.now().getTime()) })
  for (const user of [technician, french]) await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: user.auth })
  t.equal(await app.checkOverdue(), 0, 'not before the time')
  advance(11 * 60_000)
  received.length = 0
  t.equal(await app.checkOverdue(), 3, 'the three staff members')
  t.same(received.map((mail) => (mail.to as { text: string }).text).sort(), ['francoise@example.org', 'off@example.org', 'tom@example.org'])
  t.equal(await app.checkOverdue(), 0)

  await writePost(app, technician, thread.id, { body: 'Fixed.', status: 'resolved' })
  t.notMatch((await app.inject({ url: '/', cookies: await signIn(app, technician) })).body, /id="staff-alerts"/, 'a resolved incident is overdue no more')
})

t.test('an alert the mail server refused is sent at the next pass, once', async (t) => {
  const other = await openThread(app, technician, { title: 'Storage slow' })
  await writePost(app, technician, other.id, { body: 'Looking at the array.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) })
  advance(6 * 60_000)
  received.length = 0
  mailbox.refusing = true
  t.equal(await app.checkOverdue(), 0, 'the mail server refuses every alert')
  mailbox.refusing = false
  t.equal(await app.checkOverdue(), 3, 'the next pass sends it to the three staff members')
  t.ok(received.every((mail) => mail.subject?.includes('Storage slow') === true), 'about the incident whose promise passed')
  t.equal(await app.checkOverdue(), 0, 'and not again')
})

t.test('an alert put off for one of those on duty, sent to the others, is sent to them at the next passes while the promise stands', async (t) => {
  const other = await openThread(app, technician, { title: 'Backup site unreachable' })
  await writePost(app, technician, other.id, { body: 'Carrier called.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) })
  for (const user of [technician, french]) t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: user.auth })).statusCode, 200)
  advance(6 * 60_000)
  received.length = 0
  mailbox.deferredRecipients.add('francoise@example.org')
  t.equal(await app.checkOverdue(), 1, 'Tom gets it; Françoise\'s mail server says to try later')
  t.equal(await app.checkOverdue(), 0, 'still putting it off: nothing sent, nothing sent twice')
  mailbox.deferredRecipients.clear()
  t.equal(await app.checkOverdue(), 1, 'once it takes mail again, hers goes')
  t.equal(await app.checkOverdue(), 0, 'once')
  t.same(received.map((mail) => (mail.to as { text: string }).text).sort(), ['francoise@example.org', 'tom@example.org'], 'each of them told once')
  t.match(received.find((mail) => (mail.to as { text: string }).text === 'francoise@example.org')?.subject, /Point en retard/, 'in her language')

  // Put off again, and the promise kept meanwhile: nothing more to tell her.
  await writePost(app, technician, other.id, { body: 'Still on it.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) })
  advance(6 * 60_000)
  received.length = 0
  mailbox.deferredRecipients.add('francoise@example.org')
  t.equal(await app.checkOverdue(), 1)
  await writePost(app, technician, other.id, { body: 'Carrier on site.', nextUpdateAt: inFuture(30 * 60_000, app.deps.now().getTime()) })
  mailbox.deferredRecipients.clear()
  t.equal(await app.checkOverdue(), 0, 'the update came: the alert put off is dropped')
  for (const user of [technician, french]) await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: user.auth })
  await writePost(app, technician, other.id, { body: 'Resolved.', status: 'resolved' })
})

t.test('an alert whose only addressee on duty has no mailbox goes to the rest of the staff, once', async (t) => {
  const ghost = await makeUser(app, 'technician', { name: 'Gus Gone', email: 'gone@example.org' })
  mailbox.unknownRecipients.add('gone@example.org')
  t.teardown(() => { mailbox.unknownRecipients.delete('gone@example.org') })
  const other = await openThread(app, technician, { title: 'Chiller alarm' })
  await writePost(app, technician, other.id, { body: 'Checking the chiller.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) })
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: ghost.auth })).statusCode, 200)
  t.teardown(async () => {
    await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: ghost.auth })
    // He leaves the staff: the tests after this one count those who remain.
    await app.db.updateTable('users').set({ role: 'customer' }).where('id', '=', ghost.actor.id).execute()
  })
  advance(6 * 60_000)
  received.length = 0
  t.equal(await app.checkOverdue(), 3, 'his mail server refuses the address: the three other staff members are told instead')
  t.same(received.map((mail) => (mail.to as { text: string }).text).sort(), ['francoise@example.org', 'off@example.org', 'tom@example.org'])
  t.equal(await app.checkOverdue(), 0, 'once, not again at every pass')
  await writePost(app, technician, other.id, { body: 'Chiller fixed.', status: 'resolved' })
})

t.test('an account that never chose a language gets its e-mails in the one its reader signed in with', async (t) => {
  const newcomer = await makeUser(app, 'technician', { name: 'Léa', email: 'lea@example.org' })
  t.equal(newcomer.actor.locale, null)
  const form = await app.inject({ url: '/login', headers: { 'accept-language': 'fr-FR,fr;q=0.9' } })
  const csrf = cookieFrom(form, 'sitrep_csrf')!
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'accept-language': 'fr-FR,fr;q=0.9' },
    cookies: { sitrep_csrf: csrf },
    payload: { _csrf: csrfFieldOf(form.body), email: 'lea@example.org', password: PASSWORD }
  })
  t.equal(login.statusCode, 303)
  const { locale } = await app.db.selectFrom('users').select('locale').where('id', '=', newcomer.actor.id).executeTakeFirstOrThrow()
  t.equal(locale, 'fr', 'the account keeps the language of its first sign-in')

  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: newcomer.auth })).statusCode, 200)
  const late = await openThread(app, technician, { title: 'VPN down' })
  await writePost(app, technician, late.id, { body: 'Checking.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) })
  advance(6 * 60_000)
  received.length = 0
  t.equal(await app.checkOverdue(), 1, 'the one on duty')
  t.equal(received[0]!.subject, 'Point en retard\u00a0: VPN down', 'in French')
})

t.test('a check-in forgotten since the day before no longer keeps the alerts to itself', async (t) => {
  // Léa, checked in above, never checked out.
  advance(24 * 60 * 60_000)
  const next = await openThread(app, technician, { title: 'Backups failing' })
  await writePost(app, technician, next.id, { body: 'Looking.', nextUpdateAt: inFuture(5 * 60_000, app.deps.now().getTime()) })
  advance(6 * 60_000)
  received.length = 0
  t.equal(await app.checkOverdue(), 4, 'every staff member, as when nobody is on duty')
  t.same(received.map((mail) => (mail.to as { text: string }).text).sort(), ['francoise@example.org', 'lea@example.org', 'off@example.org', 'tom@example.org'])
})
