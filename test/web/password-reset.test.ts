import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { PASSWORD, buildTestApp, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { until } from '../helpers/live.ts'
import { signIn } from '../helpers/pages.ts'
import { recipientOf, startMailbox } from '../helpers/smtp.ts'

// A customer who forgot their password, on the day they need to ask a
// question, gets a link by e-mail to choose a new one: it works for an hour,
// and once. Whoever asks is told the same, whether the address has an account
// or not, and an address cannot be flooded with links.

/** Loads a page anonymously, then sends its form, with the page's CSRF token and cookie (from `remoteAddress`, 127.0.0.1 by default). */
async function sendForm (app: FastifyInstance, page: string, action: string, fields: Record<string, string>, remoteAddress?: string) {
  const from = remoteAddress === undefined ? {} : { remoteAddress }
  const res = await app.inject({ url: page, ...from })
  const csrf = cookieFrom(res, 'sitrep_csrf')!
  return await app.inject({ method: 'POST', url: action, cookies: { sitrep_csrf: csrf }, payload: { _csrf: csrfFieldOf(res.body), ...fields }, ...from })
}

const mailbox = await startMailbox(t)
const { app, advance } = await buildTestApp(t, { env: { SMTP_URL: mailbox.url, PUBLIC_URL: 'https://status.example.org' } })
const linkIn = (text: string) => /https:\/\/status\.example\.org(\/password\/reset\/[^\s?]+)\?lang=(en|fr)/.exec(text)
const mailFor = async (email: string, count = 1) => {
  await until(() => mailbox.received.filter((mail) => recipientOf(mail) === email).length >= count, 5_000)
  return mailbox.received.filter((mail) => recipientOf(mail) === email)
}
const signsInWith = async (email: string, password: string) => {
  const res = await sendForm(app, '/login', '/login', { email, password })
  return res.statusCode === 303
}

t.test('the sign-in page leads to it; a link arrives, and sets a new password once', async (t) => {
  const customer = await makeUser(app, 'customer', { name: 'Fay Forgetful' })
  const email = customer.actor.email
  const elsewhere = await signIn(app, customer)
  t.match((await app.inject({ url: '/login' })).body, /<a href="\/password\/forgot">Forgot your password\?<\/a>/, 'the sign-in page offers it')

  const asked = await sendForm(app, '/password/forgot', '/password/forgot', { email: email.toUpperCase() })
  t.equal(asked.statusCode, 303)
  t.equal(asked.headers.location, '/password/forgot?sent=1')
  t.match((await app.inject({ url: '/password/forgot?sent=1' })).body, /If an account has this address, the link is on its way/)
  const [mail] = await mailFor(email)
  t.ok(mail, 'a link arrives at the account\'s address, whatever the capitals typed')
  t.equal(mail!.subject, 'Choose a new password')
  t.match(mail!.text, /works for an hour, and once/)
  const path = linkIn(mail!.text ?? '')![1]!

  const form = await app.inject({ url: path })
  t.equal(form.statusCode, 200)
  t.match(form.body, /Choose a new password/)
  const tooShort = await sendForm(app, path, path, { password: 'short' })
  t.equal(tooShort.statusCode, 400, 'a password too short is refused')
  t.match(tooShort.body, /at least/i, 'saying why')
  const set = await sendForm(app, path, path, { password: 'a brand new passphrase' })
  t.equal(set.statusCode, 303)
  t.equal(set.headers.location, '/login?reset=1')
  t.match((await app.inject({ url: '/login?reset=1' })).body, /Your new password is set/)
  t.ok(await signsInWith(email, 'a brand new passphrase'), 'the new password signs in')
  t.notOk(await signsInWith(email, PASSWORD), 'the old one no longer does')
  t.equal((await app.inject({ url: '/account', cookies: elsewhere })).statusCode !== 200 ||
    !(await app.inject({ url: '/account', cookies: elsewhere })).body.includes('Fay Forgetful'), true, 'a session open elsewhere is ended')

  const again = await app.inject({ url: path })
  t.equal(again.statusCode, 400, 'the link, used, no longer works')
  t.match(again.body, /This link has expired or was already used/)
  t.equal((await sendForm(app, '/password/forgot', path, { password: 'yet another passphrase' })).statusCode, 400, 'nor can it set a password again')
  t.ok(await signsInWith(email, 'a brand new passphrase'))
})

t.test('an account won back through a link loses the API tokens made with it, unless its owner keeps them', async (t) => {
  const owner = await makeUser(app, 'technician', { name: 'Tam Taken' })
  const tokenOf = async () => (await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: owner.actor.email, password: PASSWORD } })).json().token as string
  const linkFor = async () => {
    const before = (await mailFor(owner.actor.email, 0)).length
    // From an address of its own: the per-address limits are the other tests' to meet.
    await sendForm(app, '/password/forgot', '/password/forgot', { email: owner.actor.email }, '127.0.0.7')
    const mails = await mailFor(owner.actor.email, before + 1)
    return linkIn(mails.at(-1)!.text ?? '')![1]!
  }
  const works = async (token: string) => (await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode === 200

  // Whoever had the password made a token: the owner's link offers to end it, ticked.
  const taken = await tokenOf()
  const path = await linkFor()
  const page = (await app.inject({ url: path })).body
  t.match(page, /<input type="checkbox" name="revokeTokens" value="on" checked> Also revoke the 2 API tokens made with this account: whoever had the password may have made them/, 'the page offers to revoke them (the test\'s and the taker\'s), ticked')
  const refused = await sendForm(app, path, path, { password: 'short', tokensOffered: '1', revokeTokens: 'on' })
  t.match(refused.body, /name="revokeTokens" value="on" checked>/, 'a refused form keeps the choice')
  t.match((await sendForm(app, path, path, { password: 'short', tokensOffered: '1' })).body, /name="revokeTokens" value="on">/, 'unticked too')
  t.equal((await sendForm(app, path, path, { password: 'won back at last', tokensOffered: '1', revokeTokens: 'on' })).statusCode, 303)
  t.notOk(await works(taken), 'the token made with the old password no longer works')

  // A script's token, kept by unticking the box.
  advance(16 * 60_000)
  const script = (await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: owner.actor.email, password: 'won back at last' } })).json().token as string
  const second = await linkFor()
  t.match((await app.inject({ url: `${second}?lang=fr` })).body, /Révoquer aussi le jeton d’API créé avec ce compte/, 'said in French too')
  t.equal((await sendForm(app, second, second, { password: 'another new passphrase', tokensOffered: '1' })).statusCode, 303)
  t.ok(await works(script), 'unticked, the token stays')

  // Opened while the account had no token: one made before the form is sent goes too.
  advance(16 * 60_000)
  await app.db.updateTable('api_tokens').set({ revoked_at: app.deps.now() }).where('user_id', '=', owner.actor.id).execute()
  const third = await linkFor()
  t.notMatch((await app.inject({ url: third })).body, /name="revokeTokens"/, 'no box to tick, with no token')
  const late = (await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: owner.actor.email, password: 'another new passphrase' } })).json().token as string
  t.equal((await sendForm(app, third, third, { password: 'and a third one' })).statusCode, 303)
  t.notOk(await works(late), 'a token made meanwhile, after the page was opened, is revoked')
})

t.test('an address without an account gets the same answer, and no e-mail', async (t) => {
  const before = mailbox.received.length
  const asked = await sendForm(app, '/password/forgot', '/password/forgot', { email: 'nobody@example.org' })
  t.equal(asked.statusCode, 303)
  t.equal(asked.headers.location, '/password/forgot?sent=1', 'told the same as an address with an account')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(mailbox.received.length, before, 'and nothing is sent')
})

t.test('one link per account in a quarter of an hour, three an hour per mailbox; a link expires after an hour', async (t) => {
  const customer = await makeUser(app, 'customer')
  const email = customer.actor.email
  await sendForm(app, '/password/forgot', '/password/forgot', { email })
  await sendForm(app, '/password/forgot', '/password/forgot', { email })
  await mailFor(email)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal((await mailFor(email)).length, 1, 'asked twice in a row: one link')
  advance(16 * 60_000)
  await sendForm(app, '/password/forgot', '/password/forgot', { email })
  t.equal((await mailFor(email, 2)).length, 2, 'asked again a quarter of an hour later: another')

  // Accounts made with one mailbox's address, "+tags" apart, are one mailbox to flood.
  const tagged = await Promise.all([1, 2, 3, 4].map((n) => makeUser(app, 'customer', { email: `Flood+${n}@example.net` })))
  for (const user of tagged) await sendForm(app, '/password/forgot', '/password/forgot', { email: user.actor.email })
  await until(() => mailbox.received.filter((mail) => recipientOf(mail).toLowerCase().startsWith('flood+')).length >= 3, 5_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(mailbox.received.map(recipientOf).filter((to) => to.toLowerCase().startsWith('flood+')).length, 3, 'three links an hour to one mailbox, whatever the accounts')

  const [first] = await mailFor(email)
  advance(61 * 60_000)
  const late = await app.inject({ url: linkIn(first!.text ?? '')![1]! })
  t.equal(late.statusCode, 400, 'after an hour, a link no longer works')
  t.match(late.body, /Ask for a new link/)
})

t.test('a link someone made up or altered does not work', async (t) => {
  const customer = await makeUser(app, 'customer')
  for (const token of [`${customer.actor.id}.9999999999.${'a'.repeat(32)}`, 'nonsense', `${customer.actor.id}.9999999999`]) {
    const res = await app.inject({ url: `/password/reset/${token}` })
    t.equal(res.statusCode, 400, token)
  }
  const made = await sendForm(app, '/password/forgot', `/password/reset/${customer.actor.id}.9999999999.${'b'.repeat(32)}`, { password: 'taken over at last' })
  t.equal(made.statusCode, 400)
  t.notOk(await signsInWith(customer.actor.email, 'taken over at last'), 'the password is unchanged')
})

t.test('in French for a French reader; an address asking too often is told to wait; a forum that sends no e-mail says whom to ask', async (t) => {
  // An instance of its own: the asks of the tests above from this address are not counted.
  const frenchMailbox = await startMailbox(t)
  const { app } = await buildTestApp(t, { env: { SMTP_URL: frenchMailbox.url, PUBLIC_URL: 'https://status.example.org' } })
  const customer = await makeUser(app, 'customer')
  await app.db.updateTable('users').set({ locale: 'fr' }).where('id', '=', customer.actor.id).execute()
  await sendForm(app, '/password/forgot?lang=fr', '/password/forgot', { email: customer.actor.email })
  await until(() => frenchMailbox.received.length > 0, 5_000)
  const [mail] = frenchMailbox.received
  t.equal(mail!.subject, 'Choisir un nouveau mot de passe')
  t.equal(linkIn(mail!.text ?? '')![2], 'fr', 'the link opens in French')
  t.match((await app.inject({ url: `${linkIn(mail!.text ?? '')![1]!}?lang=fr` })).body, /Choisir un nouveau mot de passe/)

  let answer = 0
  let waitFor: unknown
  for (let i = 0; i < 12 && answer !== 429; i++) {
    const res = await sendForm(app, '/password/forgot', '/password/forgot', { email: `someone${i}@example.org` })
    answer = res.statusCode
    waitFor = res.headers['retry-after']
  }
  t.equal(answer, 429, 'an address asking for links again and again is refused within a minute')
  t.ok(Number(waitFor) > 0, 'told when to try again')

  const { app: noMail } = await buildTestApp(t)
  const page = await noMail.inject({ url: '/password/forgot' })
  t.match(page.body, /This forum sends no e-mail: ask one of its administrators/)
  t.notMatch(page.body, /<form method="post" action="\/password\/forgot">/, 'and offers no form that would send nothing')
})
