import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { PASSWORD, type TestUser, buildTestApp, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { openThread } from '../helpers/api.ts'
import { type Cookies, sectionById, signIn, submitForm } from '../helpers/pages.ts'

const NEW_PASSWORD = 'a brand new passphrase for the night shift'

const isSignedIn = async (app: FastifyInstance, cookies: Cookies) => (await app.inject({ url: '/api/v1/me', cookies })).statusCode === 200
const canUseToken = async (app: FastifyInstance, user: TestUser) => (await app.inject({ url: '/api/v1/me', headers: user.auth })).statusCode === 200
/** What a sign-in with this password answers: 303 in, 401 refused. */
const signInWith = async (app: FastifyInstance, user: TestUser, password: string) => {
  const form = await app.inject({ url: '/login' })
  const res = await app.inject({
    method: 'POST', url: '/login', cookies: { sitrep_csrf: cookieFrom(form, 'sitrep_csrf')! },
    payload: { _csrf: csrfFieldOf(form.body), email: user.actor.email, password }
  })
  return res.statusCode
}
const changeOn = (app: FastifyInstance, cookies: Cookies, fields: Record<string, string>, page = '/account') =>
  submitForm(app, cookies, page, '/account/password', fields)
/** The cookies a browser holds after this answer. */
const after = (cookies: Cookies, res: LightMyRequestResponse): Cookies => ({ ...cookies, ...Object.fromEntries(res.cookies.map((c) => [c.name, c.value])) })

t.test('a signed-in user finds the account page in the header, with who they are', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Noor Haddad', shift: 'night', email: 'noor@example.org' })
  const cookies = await signIn(app, tech)
  t.match((await app.inject({ url: '/', cookies })).body, /<a href="\/account">Your account<\/a>/, 'the header links it')
  t.notMatch((await app.inject({ url: '/' })).body, /href="\/account"/, 'not for anonymous readers')
  const page = await app.inject({ url: '/account', cookies })
  t.equal(page.statusCode, 200)
  const details = sectionById(page.body, 'account-details')
  t.match(details, /Noor Haddad/)
  t.match(details, /noor@example\.org/)
  t.match(details, /Technician, Night shift/)
  const form = sectionById(page.body, 'password-form')
  t.match(form, /name="_csrf" value="[^"]+"/, 'the form carries its CSRF token')
  t.match(form, /<input id="current-password" type="password" name="current" required autocomplete="current-password">/)
  t.match(form, /<input id="new-password" type="password" name="password" required minlength="8" autocomplete="new-password"/)
  t.match(form, /Also revoke my API token:/, 'the user has one token: the page offers to revoke it')

  const anonymous = await app.inject({ url: '/account' })
  t.equal(anonymous.statusCode, 303, 'an anonymous reader is sent to sign in')
  t.equal(anonymous.headers.location, '/login?next=/account')
})

t.test('a new password ends every other session; this browser stays signed in on a new one; tokens keep working', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer')
  const other = await makeUser(app, 'customer')
  const phone = await signIn(app, user)
  const laptop = await signIn(app, user)
  const bystander = await signIn(app, other)

  const res = await changeOn(app, laptop, { current: PASSWORD, password: NEW_PASSWORD, again: NEW_PASSWORD })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/account?changed=1')
  const fresh = cookieFrom(res, SESSION_COOKIE)
  t.ok(fresh !== undefined && fresh !== laptop[SESSION_COOKIE], 'a new session cookie')
  const browser = after(laptop, res)

  t.ok(await isSignedIn(app, browser), 'this browser is still signed in')
  const done = await app.inject({ url: '/account?changed=1', cookies: browser })
  t.match(done.body, /Your password is changed\. You are signed out everywhere else\./)
  t.notOk(await isSignedIn(app, laptop), 'the cookie from before the change opens nothing')
  t.notOk(await isSignedIn(app, phone), 'the other browser is signed out')
  t.ok(await isSignedIn(app, bystander), "another user's session is untouched")
  t.ok(await canUseToken(app, user), 'the API token still works')

  t.equal(await signInWith(app, user, PASSWORD), 401, 'the old password no longer signs in')
  t.equal(await signInWith(app, user, NEW_PASSWORD), 303, 'the new one does')
  const next = await changeOn(app, browser, { current: NEW_PASSWORD, password: 'and yet another passphrase', again: 'and yet another passphrase' })
  t.equal(next.statusCode, 303, 'the new session can change it again')
})

t.test('asked to, the change revokes the API tokens too', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'technician')
  const cookies = await signIn(app, user)
  const res = await changeOn(app, cookies, { current: PASSWORD, password: NEW_PASSWORD, again: NEW_PASSWORD, revokeTokens: 'on' })
  t.equal(res.statusCode, 303)
  t.notOk(await canUseToken(app, user), 'the token is revoked')
  const page = await app.inject({ url: '/account', cookies: after(cookies, res) })
  t.notMatch(page.body, /name="revokeTokens"/, 'no token left: nothing to offer')
})

t.test('a refused change says why, keeps the password and the session', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer')
  const cookies = await signIn(app, user)
  // The last item: the field the refusal points at, marked and given the focus.
  const cases: Array<[string, Record<string, string>, number, RegExp, string]> = [
    ['a wrong current password', { current: 'not my password', password: NEW_PASSWORD, again: NEW_PASSWORD }, 403, /The current password is not right\./, 'current-password'],
    ['two different new passwords', { current: PASSWORD, password: NEW_PASSWORD, again: `${NEW_PASSWORD}!` }, 400, /The two new passwords differ\./, 'again-password'],
    ['a new password too short', { current: PASSWORD, password: 'short', again: 'short' }, 400, /at least 8 characters/, 'new-password'],
    ['a new password too long', { current: PASSWORD, password: 'x'.repeat(1025), again: 'x'.repeat(1025) }, 400, /too long/, 'new-password'],
    ['the same password again', { current: PASSWORD, password: PASSWORD, again: PASSWORD }, 400, /the same as the current one/, 'new-password']
  ]
  for (const [what, fields, status, message, field] of cases) {
    const res = await changeOn(app, cookies, fields)
    t.equal(res.statusCode, status, `${what}: ${status}`)
    t.match(sectionById(res.body, 'main'), message, `${what}: the page says why`)
    const marked = [...res.body.matchAll(/<input id="([\w-]+)"[^>]*aria-invalid="true"[^>]*>/g)]
    t.same(marked.map((m) => m[1]), [field], `${what}: the field to correct is marked`)
    t.match(marked[0]?.[0], /aria-describedby="password-error[ "]/, `${what}: and tied to the message`)
    t.match(marked[0]?.[0], / autofocus>$/, `${what}: and has the focus`)
    t.match(res.body, /id="password-form"/, `${what}: the form is there to try again`)
    t.equal(cookieFrom(res, SESSION_COOKIE), undefined, `${what}: no new session`)
  }
  t.ok(await isSignedIn(app, cookies), 'still signed in')
  t.equal(await signInWith(app, user, PASSWORD), 303, 'the password is the one it was')

  const french = await changeOn(app, cookies, { current: 'pas le bon', password: NEW_PASSWORD, again: NEW_PASSWORD }, '/account?lang=fr')
  t.match(french.body, /Le mot de passe actuel n’est pas le bon\./, 'in French for a French reader')
})

t.test('a user changes their own name: beside their posts, old ones too, and in the duty box; the audit log keeps the old one', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Noor Haddad', shift: 'night' })
  const moderator = await makeUser(app, 'moderator')
  const thread = await openThread(app, tech, { title: 'Core switch down' })
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: tech.auth })).statusCode, 200)
  const cookies = await signIn(app, tech)
  t.match((await app.inject({ url: `/t/${thread.id}` })).body, /Noor Haddad/, 'a reader sees the old name (the page is kept)')
  t.match(sectionById((await app.inject({ url: '/account', cookies })).body, 'name-form'), /<input id="account-name" name="name" value="Noor Haddad" required maxlength="80"/, 'the form holds the name as it is')

  const res = await submitForm(app, cookies, '/account', '/account/name', { name: '  Noor H.  ' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/account?renamed=1#name')
  const account = (await app.inject({ url: '/account?renamed=1', cookies })).body
  t.match(sectionById(account, 'main'), /<p class="notice" role="status">Your name is changed\.<\/p>/, 'the page says it is done')
  t.match(sectionById(account, 'account-details'), /<dd dir="auto">Noor H\.<\/dd>/, 'trimmed, and shown at once')
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).json().name, 'Noor H.', 'the session speaks for the new name at once')
  t.match(sectionById((await app.inject({ url: '/' })).body, 'duty'), /Shift lead: <bdi>Noor H\.<\/bdi>/, 'the duty box names them anew at once')

  advance(31_000)
  const page = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(page, /Noor H\./, 'within half a minute, the thread shows the new name beside the earlier post')
  t.notMatch(page, /Noor Haddad/, 'and the old one nowhere')

  const audit = sectionById((await app.inject({ url: '/mod/audit', cookies: await signIn(app, moderator) })).body, 'main')
  t.match(audit, /Name changed/, 'moderators see the change in the audit log')
  t.match(audit, /Noor Haddad/, 'with the old name')

  const same = await submitForm(app, cookies, '/account', '/account/name', { name: 'Noor H.' })
  t.equal(same.statusCode, 303, 'the same name again changes nothing, and is no error')
  const rows = (await app.inject({ url: '/mod/audit', cookies: await signIn(app, moderator) })).body.match(/data-action="user\.name"/g) ?? []
  t.equal(rows.length, 1, 'nor a second line in the audit log')
})

t.test('a refused name says why, keeps what was written and the name it was', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer', { name: 'Ada Reader' })
  const cookies = await signIn(app, user)
  for (const [what, name] of [['spaces alone', '   '], ['81 characters', 'x'.repeat(81)], ['invisible characters alone', '\u200b\u3164\u200b']] as const) {
    const res = await submitForm(app, cookies, '/account', '/account/name', { name })
    t.equal(res.statusCode, 400, `${what}: 400`)
    t.match(sectionById(res.body, 'main'), /<p class="form-error" role="alert" id="name-error">The name must be 1 to 80 characters long\.<\/p>/, `${what}: the page says why`)
    t.match(sectionById(res.body, 'name-form'), new RegExp(`value="${name}"[^>]*aria-invalid="true" autofocus`), `${what}: what was written is there to correct, and takes the focus`)
  }
  const french = await submitForm(app, cookies, '/account?lang=fr', '/account/name', { name: '' })
  t.match(french.body, /Le nom doit compter de 1 à 80 caractères\./, 'in French for a French reader')
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).json().name, 'Ada Reader', 'the name is the one it was')
  // Tabs and line breaks would break the lines a name is set in (an e-mail, the audit log): spaces.
  t.equal((await submitForm(app, cookies, '/account', '/account/name', { name: 'Ada\tMaria\r\nReader ' })).statusCode, 303)
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).json().name, 'Ada Maria Reader', 'a name is one line')
  t.equal((await submitForm(app, cookies, '/account', '/account/name', { name: 'Ada Reader' })).statusCode, 303)
  const forged = await app.inject({ method: 'POST', url: '/account/name', cookies, payload: { name: 'Forged' } })
  t.equal(forged.statusCode, 403, 'without its CSRF token: refused')
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).json().name, 'Ada Reader')
})

t.test('names are changed a few times a minute at most', async (t) => {
  const { app } = await buildTestApp(t)
  const cookies = await signIn(app, await makeUser(app, 'customer'))
  for (let i = 1; i <= 10; i++) t.equal((await submitForm(app, cookies, '/account', '/account/name', { name: `Name ${i}` })).statusCode, 303)
  const refused = await submitForm(app, cookies, '/account', '/account/name', { name: 'Name 11' })
  t.equal(refused.statusCode, 429, 'the eleventh in a minute waits')
  t.ok(Number(refused.headers['retry-after']) >= 1, 'told when to try again')
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).json().name, 'Name 10')
})

t.test('the form needs its CSRF token and a session', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer')
  const cookies = await signIn(app, user)
  const forged = await app.inject({ method: 'POST', url: '/account/password', cookies, payload: { current: PASSWORD, password: NEW_PASSWORD, again: NEW_PASSWORD } })
  t.equal(forged.statusCode, 403, 'no token: refused')
  const anonymousPage = await app.inject({ url: '/login' })
  const anonymous = await app.inject({
    method: 'POST', url: '/account/password', cookies: { sitrep_csrf: cookieFrom(anonymousPage, 'sitrep_csrf')! },
    payload: { _csrf: csrfFieldOf(anonymousPage.body), current: PASSWORD, password: NEW_PASSWORD, again: NEW_PASSWORD }
  })
  t.equal(anonymous.statusCode, 401, 'not signed in: refused')
  t.equal(await signInWith(app, user, PASSWORD), 303, 'the password did not change')
})

t.test('guessing the current password from a stolen session is slowed like signing in', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const user = await makeUser(app, 'technician')
  const stolen = await signIn(app, user)
  const page = await app.inject({ url: '/account', cookies: stolen })
  const guess = (current: string) => app.inject({
    method: 'POST', url: '/account/password', cookies: stolen, remoteAddress: '203.0.113.50',
    payload: { _csrf: csrfFieldOf(page.body), current, password: NEW_PASSWORD, again: NEW_PASSWORD }
  })
  for (let i = 0; i < 10; i++) t.equal((await guess(`guess number ${i}`)).statusCode, 403, `guess ${i + 1}: wrong`)
  const refused = await guess(PASSWORD)
  t.equal(refused.statusCode, 429, 'the eleventh try waits, even with the right password')
  t.ok(Number(refused.headers['retry-after']) > 0, 'and is told how long')
  t.match(refused.body, /Try again in \d+ (s|min)\./, 'the page says so')
  t.equal(await signInWith(app, user, PASSWORD), 303, 'the technician still signs in from their own address')
  advance(15 * 60_000)
  t.equal((await guess(PASSWORD)).statusCode, 303, 'the wait ends by itself')
})
