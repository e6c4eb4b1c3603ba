import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { pino } from 'pino'
import t from 'tap'
import { buildTestApp, cookieFrom, csrfFieldOf, makeUser, PASSWORD } from '../helpers/app.ts'
import { until } from '../helpers/live.ts'
import { type Cookies, signIn } from '../helpers/pages.ts'
import { recipientOf, startMailbox } from '../helpers/smtp.ts'

// The night the fire starts, an admin calls in a technician from another
// team: from the users' page, they make the account, and its owner gets a
// link to choose a password, by e-mail and from the admin's hands. An admin
// also gives a link to someone who cannot sign in, where the forum sends no
// e-mail.

const DAY_MS = 24 * 60 * 60_000

/** Moves the clock on by `ms`, the admin's page opened once a day meanwhile, as an admin on call does: their session stays. */
async function onCall (app: FastifyInstance, cookies: Cookies, advance: (ms: number) => void, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= DAY_MS / 2) {
    advance(Math.min(left, DAY_MS / 2))
    await app.inject({ url: '/admin/users', cookies })
  }
}

/** Opens a page anonymously and sends its (first) form, as a browser would, with the page's CSRF token. */
async function sendAnonymously (app: FastifyInstance, page: string, fields: Record<string, string>) {
  const res = await app.inject({ url: page })
  const action = /<form method="post" action="([^"]+)"/.exec(res.body)?.[1]?.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&') ?? page
  return await app.inject({ method: 'POST', url: action, cookies: { sitrep_csrf: cookieFrom(res, 'sitrep_csrf')! }, payload: { _csrf: csrfFieldOf(res.body), ...fields } })
}

const signsInWith = async (app: FastifyInstance, email: string, password: string): Promise<boolean> =>
  (await sendAnonymously(app, '/login', { email, password })).statusCode === 303

/** The users' page as the admin sees it, and a form of it filled in: each call sends it, as a reload of its answer sends it again. */
async function filledForm (app: FastifyInstance, cookies: Cookies, action: string, fields: Record<string, string>): Promise<() => Promise<LightMyRequestResponse>> {
  const page = await app.inject({ url: '/admin/users', cookies })
  const key = /name="idempotencyKey" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
  return async () => await app.inject({ method: 'POST', url: action, cookies, payload: { _csrf: csrfFieldOf(page.body), idempotencyKey: key, ...fields } })
}

/** The form sent; sent again after `again` (a reload of its answer, a while later), the second answer. */
async function adminForm (app: FastifyInstance, cookies: Cookies, action: string, fields: Record<string, string>, again?: (first: LightMyRequestResponse) => void) {
  const send = await filledForm(app, cookies, action, fields)
  const first = await send()
  if (again === undefined) return first
  again(first)
  return await send()
}

/** The link shown on the admin's answer. */
const shownLink = (html: string): string | undefined => /id="password-link-url"[^>]*value="([^"]+)"/.exec(html)?.[1]?.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&')

t.test('with e-mail: an admin adds a technician, who chooses a password by the link and signs in', async (t) => {
  const mailbox = await startMailbox(t)
  // What the instance logs, as its operator reads it.
  const logged: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logged.push(line) } })
  const { app, advance } = await buildTestApp(t, { logger, env: { SMTP_URL: mailbox.url, PUBLIC_URL: 'https://status.example.org' } })
  const admin = await makeUser(app, 'admin', { name: 'Ada Admin' })
  const cookies = await signIn(app, admin)

  const page = await app.inject({ url: '/admin/users', cookies })
  t.match(page.body, /<summary>Add a person<\/summary>/, 'the users\' page offers to add a person')
  t.match(page.body, /They get an e-mail with a link to choose their password/)

  // Sent again a minute later (a reload of the answer): the second answer is the one shown.
  const addTom = await filledForm(app, cookies, '/admin/users', { name: 'Tom Nightshift', email: 'Tom@Example.org', role: 'technician', shift: 'night' })
  t.match((await addTom()).body, /Account made for <bdi>Tom Nightshift<\/bdi>\. A link to choose a password is e-mailed to Tom@Example\.org\./, 'the mail server took it')
  advance(60_000)
  const added = await addTom()
  t.equal(added.statusCode, 200, 'the same form sent again is not refused')
  t.equal(added.headers['cache-control'], 'no-store', 'the link is never kept by a cache')
  t.match(added.body, /Account made for <bdi>Tom Nightshift<\/bdi>\. The link this form gave before, e-mailed to Tom@Example\.org if the mail server took it: pass it on if it did not arrive\./, 'sent again, no second e-mail, and the page says no more than it knows')
  t.match(added.body, /works for a week, and once/)
  const link = shownLink(added.body)
  t.match(link, /^https:\/\/status\.example\.org\/password\/reset\/[\w.-]+\?lang=en&welcome=1$/, 'and the link is shown, to pass on')
  const row = /<tr data-user-id="(\d+)"[^>]*>\s*<td><bdi>Tom Nightshift<\/bdi>[\s\S]*?<\/tr>/.exec(added.body)
  t.ok(row, 'the new account is in the table')
  t.match(row?.[0], /<option value="technician" selected>/, 'a technician')
  t.match(row?.[0], /<option value="night" selected>/, 'of the night shift')

  await until(() => mailbox.received.length >= 1, 5_000)
  const [mail] = mailbox.received
  t.match(recipientOf(mail!), /^tom@example\.org$/i, 'to the address given')
  t.equal(mail!.subject, 'Your account on the Sitrep forum')
  t.match(mail!.text, /Ada Admin made you an account on the Sitrep forum at https:\/\/status\.example\.org/)
  t.ok(mail!.text?.includes(link!), 'the e-mail holds the same link', { link, text: mail!.text })

  const audit = await app.db.selectFrom('audit_log').selectAll().where('target_user_id', '=', Number(row![1])).execute()
  t.same(audit.map((entry) => [entry.action, entry.actor_id, entry.after]), [['user.create', admin.actor.id, { role: 'technician', shift: 'night' }]], 'the audit log says which admin made it')

  t.equal(await app.db.selectFrom('users').select('id').where('email', 'ilike', 'tom@example.org').execute().then((rows) => rows.length), 1, 'one account')
  t.equal(await app.db.selectFrom('audit_log').select('id').where('action', '=', 'user.create').execute().then((rows) => rows.length), 1, 'made once')
  t.equal(mailbox.received.length, 1, 'and e-mailed once')
  const refused = await adminForm(app, cookies, '/admin/users', { name: 'Tom Again', email: 'tom@example.org', role: 'customer', shift: '' })
  t.equal(refused.statusCode, 409, 'another form for the same address is refused')

  const path = new URL(link!).pathname + new URL(link!).search
  const choose = await app.inject({ url: path })
  t.equal(choose.statusCode, 200)
  t.match(choose.body, /<h1>Choose your password<\/h1>/, 'the link opens on the account\'s first password')
  t.match(choose.body, /An account was made for you on this forum/)
  t.equal(choose.headers['referrer-policy'], 'no-referrer', 'the page tells nobody its address')
  t.notOk(await signsInWith(app, 'tom@example.org', PASSWORD), 'nobody knows its password until then')

  await onCall(app, cookies, advance, 6 * DAY_MS)
  const set = await sendAnonymously(app, path, { password: 'the night is long' })
  t.equal(set.statusCode, 303, 'six days later, the link still works')
  t.equal(set.headers.location, '/login?reset=first')
  t.match((await app.inject({ url: '/login?reset=first' })).body, /Your password is set\. Sign in with your e-mail address and this password\./, 'the sign-in page says it is set')
  t.ok(await signsInWith(app, 'tom@example.org', 'the night is long'), 'and Tom signs in with the password chosen')
  t.equal((await app.inject({ url: path })).statusCode, 400, 'once')
  const reloaded = await addTom()
  t.equal(reloaded.statusCode, 200, 'the form sent again once the link is used is not refused')
  t.match(reloaded.body, /Account made for <bdi>Tom Nightshift<\/bdi>\. The link this form gave no longer works: it was used, or it has expired\./, 'it says the link is spent')
  t.equal(shownLink(reloaded.body), undefined, 'and gives no link that would set the password again')
  t.equal(mailbox.received.length, 1, 'nor e-mails one')
  const token = new URL(link!).pathname.split('/').at(-1)!
  t.ok(logged.some((line) => line.includes('/password/reset/:token')), 'the link\'s uses are logged')
  t.notOk(logged.some((line) => line.includes(token)), 'but not the link itself')
})

t.test('a link whose e-mail the mail server refuses says so: the admin passes it on', async (t) => {
  const mailbox = await startMailbox(t)
  const { app } = await buildTestApp(t, { env: { SMTP_URL: mailbox.url, PUBLIC_URL: 'https://status.example.org' } })
  const admin = await makeUser(app, 'admin')
  const forgetful = await makeUser(app, 'technician', { name: 'Fay Forgetful', email: 'fay@example.org' })
  const cookies = await signIn(app, admin)
  mailbox.refusing = true
  const refused = await adminForm(app, cookies, `/admin/users/${forgetful.actor.id}/password-link`, {})
  mailbox.refusing = false
  t.equal(refused.statusCode, 200)
  t.match(refused.body, /The e-mail to fay@example\.org could not be sent just now: pass this link on yourself\./, 'not said to be e-mailed')
  t.ok(shownLink(refused.body), 'the link is shown, to pass on')
  t.equal(mailbox.received.length, 0)
  await app.inject({ url: '/admin/users?lang=fr', cookies })
  mailbox.refusing = true
  const enFrancais = await adminForm(app, cookies, `/admin/users/${forgetful.actor.id}/password-link`, {})
  mailbox.refusing = false
  t.match(enFrancais.body, /L’e-mail à fay@example\.org n’a pas pu partir pour l’instant\u00a0: transmettez ce lien vous-même\./)
  const sent = await adminForm(app, cookies, `/admin/users/${forgetful.actor.id}/password-link`, {})
  t.match(sent.body, /Un lien pour choisir un mot de passe est envoyé par e-mail à fay@example\.org\./, 'a new form, once the mail server is back, e-mails it')
  await until(() => mailbox.received.length >= 1, 5_000)
  t.equal(recipientOf(mailbox.received[0]!), 'fay@example.org')
})

t.test('a new account\'s link works for a week, not longer', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const admin = await makeUser(app, 'admin')
  const cookies = await signIn(app, admin)
  const addLarry = await filledForm(app, cookies, '/admin/users', { name: 'Late Larry', email: 'larry@example.org', role: 'customer', shift: '' })
  const link = new URL(shownLink((await addLarry()).body)!)
  await onCall(app, cookies, advance, 7 * DAY_MS - 60_000)
  t.equal((await app.inject({ url: link.pathname + link.search })).statusCode, 200, 'a minute before the week is out, it works')
  advance(2 * 60_000)
  const late = await app.inject({ url: link.pathname + link.search })
  t.equal(late.statusCode, 400)
  t.match(late.body, /This link has expired or was already used/)
  const reloaded = await addLarry()
  t.match(reloaded.body, /The link this form gave no longer works: it was used, or it has expired\./, 'the form sent again then says so')
  t.equal(shownLink(reloaded.body), undefined, 'and gives no link')
})

t.test('a refused person is said why, with the form as it was sent, and nobody is made', async (t) => {
  const { app } = await buildTestApp(t)
  const admin = await makeUser(app, 'admin')
  const taken = await makeUser(app, 'customer', { email: 'taken@example.org' })
  const cookies = await signIn(app, admin)
  const count = async () => (await app.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n
  const before = await count()
  const cases: [Record<string, string>, number, RegExp, string][] = [
    [{ name: 'Bad Mail', email: 'not an address', role: 'customer', shift: '' }, 400, /The e-mail address is not valid/, 'add-email'],
    [{ name: 'Again', email: 'TAKEN@example.org', role: 'moderator', shift: '' }, 409, /An account with this e-mail address already exists/, 'add-email'],
    [{ name: 'No Shift', email: 'noshift@example.org', role: 'technician', shift: '' }, 400, /A technician needs a shift/, 'add-shift'],
    [{ name: '   ', email: 'blank@example.org', role: 'customer', shift: '' }, 400, /The name must be 1 to 80 characters long/, 'add-name'],
    [{ name: 'Boss', email: 'boss@example.org', role: 'overlord', shift: '' }, 400, /The role must be customer, technician, moderator or admin/, 'add-role']
  ]
  for (const [fields, status, reason, wrong] of cases) {
    const res = await adminForm(app, cookies, '/admin/users', fields)
    t.equal(res.statusCode, status, `${fields.email}: ${status}`)
    t.match(res.body, reason, `${fields.email}: the reason is said`)
    const marked = [...res.body.matchAll(/<(?:input|select) id="(add-[a-z]+)"[^>]*aria-invalid="true"[^>]*>/g)]
    t.same(marked.map((m) => m[1]), [wrong], `${fields.email}: the field it is about is marked, and only it`)
    t.match(marked[0]?.[0], /aria-describedby="(add-user-error|add-user-error add-shift-hint)"[^>]*autofocus/, `${fields.email}: described by the reason, and focused`)
    t.match(res.body, /<details id="add-user" class="admin-add" open>/, `${fields.email}: the form is open`)
    t.match(res.body, new RegExp(`id="add-email"[^>]*value="${fields.email}"`), `${fields.email}: with what was typed`)
    t.notMatch(res.body, /id="password-link"/, `${fields.email}: no link`)
  }
  t.equal(await count(), before, 'nobody was made')
  t.equal((await app.db.selectFrom('users').select('name').where('id', '=', taken.actor.id).executeTakeFirstOrThrow()).name, taken.actor.name, 'the account with that address is untouched')
  // A shift chosen for another role than technician is left out, not refused.
  const customer = await adminForm(app, cookies, '/admin/users', { name: 'Cy Customer', email: 'cy@example.org', role: 'customer', shift: 'day' })
  t.equal(customer.statusCode, 200)
  t.equal((await app.db.selectFrom('users').select('shift').where('email', '=', 'cy@example.org').executeTakeFirstOrThrow()).shift, null)

  const french = await adminForm(app, { ...cookies, sitrep_lang: 'fr' }, '/admin/users', { name: 'Pas De Mail', email: 'nope', role: 'customer', shift: '' })
  t.match(french.body, /<summary>Ajouter une personne<\/summary>/)
  t.match(french.body, /<p class="form-error" role="alert" id="add-user-error">L’adresse e-mail n’est pas valide\.<\/p>/, 'in French too')
})

t.test('without e-mail: the admin is shown the link to pass on; a link for an existing account ends its old password once used', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const admin = await makeUser(app, 'admin')
  const cookies = await signIn(app, admin)
  t.match((await app.inject({ url: '/admin/users', cookies })).body, /This forum sends no e-mail: you are shown a link/)
  t.match((await app.inject({ url: '/password/forgot' })).body, /ask one of its administrators for a link to choose a new password/, 'the forgotten-password page sends people to the admins')

  const added = await adminForm(app, cookies, '/admin/users', { name: 'Mo Derator', email: 'mo@example.org', role: 'moderator', shift: '' })
  t.match(added.body, /Pass <bdi>Mo Derator<\/bdi> this link yourself: this forum sends no e-mail\./)
  t.ok(shownLink(added.body), 'the link is shown')

  // Someone who forgot their password, on a forum that sends no e-mail.
  const forgetful = await makeUser(app, 'customer', { name: 'Fay Forgetful' })
  await app.db.updateTable('users').set({ locale: 'fr' }).where('id', '=', forgetful.actor.id).execute()
  const elsewhere = await signIn(app, forgetful)
  const giveFay = await filledForm(app, cookies, `/admin/users/${forgetful.actor.id}/password-link`, {})
  const firstLink = shownLink((await giveFay()).body)
  advance(60_000)
  const again = await giveFay()
  t.equal(again.statusCode, 200, 'the same form sent again a minute later is not refused')
  t.equal(shownLink(again.body), firstLink, 'and shows the same link')
  t.match(firstLink, /\?lang=fr$/, 'in the language of its owner')

  // The admin tries the link in their own browser: it shows in French, for that page alone.
  const tried = await app.inject({ url: new URL(firstLink!).pathname + new URL(firstLink!).search, cookies })
  t.match(tried.body, /<html lang="fr"/, 'the link opens in French')
  t.equal(cookieFrom(tried, 'sitrep_lang'), undefined, 'without making French this browser\'s language')
  t.match((await app.inject({ url: '/admin/users', cookies })).body, /<html lang="en"/, 'the admin\'s next page is in English')
  const adminLocale = await app.db.selectFrom('users').select('locale').where('id', '=', admin.actor.id).executeTakeFirstOrThrow()
  t.not(adminLocale.locale, 'fr', 'nor their account\'s')
  t.equal(cookieFrom(await app.inject({ url: new URL(firstLink!).pathname + new URL(firstLink!).search }), 'sitrep_lang'), 'fr', 'opened by its owner, not signed in, French stays for the sign-in after it')

  const given = await adminForm(app, cookies, `/admin/users/${forgetful.actor.id}/password-link`, {})
  t.equal(given.statusCode, 200)
  t.equal(given.headers['cache-control'], 'no-store')
  t.match(given.body, /Their link to choose a new password \(works for a day, and once; the old password works until then\)/)
  const link = shownLink(given.body)!
  t.notMatch(link, /welcome/, 'not a welcome: the account has a password')
  const path = new URL(link).pathname + new URL(link).search
  t.match((await app.inject({ url: path })).body, /<h1>Choisir un nouveau mot de passe<\/h1>/, 'in French, its owner\'s language')
  t.ok(await signsInWith(app, forgetful.actor.email, PASSWORD), 'the old password works until the link is used')
  const audit = await app.db.selectFrom('audit_log').selectAll().where('target_user_id', '=', forgetful.actor.id).execute()
  t.same(audit.map((entry) => [entry.action, entry.actor_id]), [['user.reset', admin.actor.id], ['user.reset', admin.actor.id]], 'the audit log says which admin gave it, once a form')

  t.equal((await sendAnonymously(app, path, { password: 'remembered at last' })).statusCode, 303)
  t.ok(await signsInWith(app, forgetful.actor.email, 'remembered at last'), 'the new password works')
  t.notOk(await signsInWith(app, forgetful.actor.email, PASSWORD), 'the old one no more')
  t.equal((await app.inject({ url: '/account', cookies: elsewhere })).statusCode, 303, 'and the sessions it had are ended')
  const spent = await giveFay()
  t.match(spent.body, /The link this form gave no longer works: it was used, or it has expired\./, 'the first form sent again now says its link is spent')
  t.equal(shownLink(spent.body), undefined, 'and gives none')

  const late = await adminForm(app, cookies, `/admin/users/${forgetful.actor.id}/password-link`, {})
  advance(DAY_MS - 60_000)
  t.equal((await app.inject({ url: new URL(shownLink(late.body)!).pathname })).statusCode, 200, 'a minute before the day is out, it works')
  advance(2 * 60_000)
  const latePath = new URL(shownLink(late.body)!).pathname
  t.match((await app.inject({ url: latePath })).body, /This link has expired or was already used/, 'a day later, it no longer works')
})

t.test('only admins add people or give links', async (t) => {
  const { app } = await buildTestApp(t)
  const moderator = await makeUser(app, 'moderator')
  const customer = await makeUser(app, 'customer')
  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: '/', cookies })
  const sent = async (action: string) => await app.inject({ method: 'POST', url: action, cookies, payload: { _csrf: csrfFieldOf(page.body), name: 'Sneaky', email: 'sneaky@example.org', role: 'admin', shift: '' } })
  for (const action of ['/admin/users', `/admin/users/${customer.actor.id}/password-link`]) {
    const res = await sent(action)
    t.equal(res.statusCode, 403, `${action}: refused`)
    t.match(res.body, /Only admins may do this\./, `${action}: for the moderator's role, not for the form`)
  }
  t.equal(await app.db.selectFrom('users').select('id').where('email', '=', 'sneaky@example.org').executeTakeFirst(), undefined, 'nobody was made')
  const audit = await app.db.selectFrom('audit_log').select('action').where('target_user_id', '=', customer.actor.id).execute()
  t.same(audit, [], 'no link was given')
})
