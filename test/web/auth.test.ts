import t from 'tap'
import { SESSION_COOKIE } from '../../src/web/plugins/app/auth.ts'
import { PASSWORD, buildTestApp, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { signIn } from '../helpers/pages.ts'

t.test('signing in gives a new session, and signing out ends it', async (t) => {
  const { app } = await buildTestApp(t)
  const { actor } = await makeUser(app, 'customer')
  const form = await app.inject({ url: '/login' })
  t.equal(form.statusCode, 200)
  const csrfCookie = cookieFrom(form, 'sitrep_csrf')!
  const login = await app.inject({
    method: 'POST', url: '/login',
    cookies: { sitrep_csrf: csrfCookie, [SESSION_COOKIE]: 'planted-by-an-attacker' },
    payload: { _csrf: csrfFieldOf(form.body), email: actor.email, password: PASSWORD }
  })
  t.equal(login.statusCode, 303, login.body)
  const session = cookieFrom(login, SESSION_COOKIE)
  t.ok(session, 'a session cookie is set')
  t.not(session, 'planted-by-an-attacker', 'the session id is a new one')
  const setCookie = String(login.headers['set-cookie'])
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /SameSite=Lax/)

  const me = await app.inject({ url: '/api/v1/me', cookies: { [SESSION_COOKIE]: session! } })
  t.equal(me.json().email, actor.email)

  const csrf = (await app.inject({ url: '/api/v1/csrf', cookies: { [SESSION_COOKIE]: session!, sitrep_csrf: csrfCookie } })).json().token
  const logout = await app.inject({ method: 'POST', url: '/logout', cookies: { [SESSION_COOKIE]: session!, sitrep_csrf: csrfCookie }, payload: { _csrf: csrf } })
  t.equal(logout.statusCode, 303)
  const after = await app.inject({ url: '/api/v1/me', cookies: { [SESSION_COOKIE]: session! } })
  t.equal(after.statusCode, 401, 'the old cookie no longer opens the session')
})

t.test('a wrong password and an unknown e-mail get the same answer', async (t) => {
  const { app } = await buildTestApp(t)
  const { actor } = await makeUser(app, 'customer')
  const form = await app.inject({ url: '/login' })
  const cookies = { sitrep_csrf: cookieFrom(form, 'sitrep_csrf')! }
  const _csrf = csrfFieldOf(form.body)
  const wrong = await app.inject({ method: 'POST', url: '/login', cookies, payload: { _csrf, email: actor.email, password: 'not the password' } })
  const unknown = await app.inject({ method: 'POST', url: '/login', cookies, payload: { _csrf, email: 'nobody@example.org', password: 'not the password' } })
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.equal(wrong.body.replace(/value="[^"]*"/g, ''), unknown.body.replace(/value="[^"]*"/g, ''))
})

t.test('a refused form says why beside the field to correct, which takes the focus', async (t) => {
  const { app } = await buildTestApp(t)
  const { actor } = await makeUser(app, 'customer')
  const login = await app.inject({ url: '/login' })
  const refused = await app.inject({
    method: 'POST', url: '/login', cookies: { sitrep_csrf: cookieFrom(login, 'sitrep_csrf')! },
    payload: { _csrf: csrfFieldOf(login.body), email: actor.email, password: 'not the password' }
  })
  t.match(refused.body, /<p class="form-error" role="alert" id="login-error">/)
  t.match(refused.body, /name="password" required autocomplete="current-password" aria-invalid="true" aria-describedby="login-error" autofocus>/, 'signing in: the password, to type again')
  const register = await app.inject({ url: '/register' })
  const send = (fields: Record<string, string>) => app.inject({
    method: 'POST', url: '/register', cookies: { sitrep_csrf: cookieFrom(register, 'sitrep_csrf')! },
    payload: { _csrf: csrfFieldOf(register.body), name: 'Sam Reader', email: 'sam@example.org', password: 'a long enough passphrase', ...fields }
  })
  for (const [fields, field] of [[{ email: 'not an address' }, 'email'], [{ name: '  ' }, 'name'], [{ password: 'short' }, 'password']] as const) {
    const page = (await send(fields)).body
    const marked = field === 'password'
      ? /name="password"[^>]* aria-describedby="register-error register-password-hint" aria-invalid="true" autofocus>/
      : new RegExp(`name="${field}"[^>]* aria-invalid="true" aria-describedby="register-error" autofocus>`)
    t.match(page, marked, `creating an account: the ${field}`)
    t.equal(page.match(/autofocus/g)?.length, 1, 'that one alone')
  }
})

t.test('a form posted without its CSRF token is refused', async (t) => {
  const { app } = await buildTestApp(t)
  const { actor } = await makeUser(app, 'customer')
  const res = await app.inject({ method: 'POST', url: '/login', payload: { email: actor.email, password: PASSWORD } })
  t.equal(res.statusCode, 403)
})

t.test("a signed-in user's choice of language follows the account to another browser", async (t) => {
  const { app } = await buildTestApp(t)
  const { actor } = await makeUser(app, 'customer')
  const signInAs = async () => {
    const form = await app.inject({ url: '/login' })
    const csrfCookie = cookieFrom(form, 'sitrep_csrf')!
    const login = await app.inject({ method: 'POST', url: '/login', cookies: { sitrep_csrf: csrfCookie }, payload: { _csrf: csrfFieldOf(form.body), email: actor.email, password: PASSWORD } })
    return cookieFrom(login, SESSION_COOKIE)!
  }
  const first = await signInAs()
  const choice = await app.inject({ url: '/?lang=fr', cookies: { [SESSION_COOKIE]: first } })
  t.match(choice.body, '<html lang="fr"')
  // The same browser, without the choice in its address nor the cookie it set: the account's language, at once.
  for (let i = 0; i < 3; i++) {
    const next = await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: first }, headers: { 'accept-language': 'en' } })
    t.match(next.body, '<html lang="fr"', 'the next page is in French, not the account as it was kept')
  }
  const elsewhere = await signInAs()
  const page = await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: elsewhere }, headers: { 'accept-language': 'en' } })
  t.match(page.body, '<html lang="fr"', 'a new session, an English browser: still French')
  const reader = await app.inject({ url: '/', headers: { 'accept-language': 'en' } })
  t.match(reader.body, '<html lang="en"', 'anonymous readers are not affected')

  // A link from another site shows its language, and chooses nothing for the account.
  const linked = await app.inject({ url: '/?lang=en', cookies: { [SESSION_COOKIE]: elsewhere }, headers: { 'sec-fetch-site': 'cross-site' } })
  t.match(linked.body, '<html lang="en"', 'the page in the language of the link')
  t.equal((await app.db.selectFrom('users').select('locale').where('id', '=', actor.id).executeTakeFirstOrThrow()).locale, 'fr', 'the account\'s language as its owner chose it')
  const own = await app.inject({ url: '/?lang=en', cookies: { [SESSION_COOKIE]: elsewhere }, headers: { 'sec-fetch-site': 'same-origin' } })
  t.match(own.body, '<html lang="en"')
  t.equal((await app.db.selectFrom('users').select('locale').where('id', '=', actor.id).executeTakeFirstOrThrow()).locale, 'en', 'chosen on the site\'s own page, it is kept')
})

t.test('after signing in, "next" leads back to a page of this site, never elsewhere', async (t) => {
  const { app } = await buildTestApp(t)
  const { actor } = await makeUser(app, 'customer')
  const signInWith = async (next: string) => {
    const form = await app.inject({ url: '/login' })
    const res = await app.inject({
      method: 'POST', url: '/login',
      cookies: { sitrep_csrf: cookieFrom(form, 'sitrep_csrf')! },
      payload: { _csrf: csrfFieldOf(form.body), email: actor.email, password: PASSWORD, next }
    })
    t.equal(res.statusCode, 303)
    return res.headers.location
  }
  t.equal(await signInWith('/t/1?view=official'), '/t/1?view=official', 'a page of the site')
  for (const away of ['//evil.example', '/\\evil.example', '/\t/evil.example', '/\n/evil.example', 'https://evil.example/', ' /evil']) {
    t.equal(await signInWith(away), '/', `not ${JSON.stringify(away)}, which a browser would take off the site`)
  }
  t.equal(await signInWith('/t/1?q=café#é'), '/t/1?q=caf%C3%A9#%C3%A9', 'letters beyond ASCII lead there, percent-encoded as a browser writes them')
  t.equal(await signInWith('/\u200b'), '/%E2%80%8B', 'an invisible one too: the sign-in is no 500')
  for (const away of ['/..//evil.example', '/.//evil.example/x', '/a/../..//evil.example']) {
    t.equal(await signInWith(away), '/', `not ${JSON.stringify(away)}, whose dots resolve to another site`)
  }
})

t.test('creating an account twice (a double click) signs the reader in; with another password it says the address is taken', async (t) => {
  const { app } = await buildTestApp(t)
  const page = await app.inject({ url: '/register?next=/t/1' })
  const csrf = cookieFrom(page, 'sitrep_csrf')!
  const register = (password: string) => app.inject({
    method: 'POST',
    url: '/register',
    cookies: { sitrep_csrf: csrf },
    payload: { _csrf: csrfFieldOf(page.body), next: '/t/1', name: 'Sam Reader', email: 'sam@example.org', password }
  })
  const first = await register('a long enough passphrase')
  t.equal(first.statusCode, 303)
  const second = await register('a long enough passphrase')
  t.equal(second.statusCode, 303, 'the second sending signs in too')
  t.equal(second.headers.location, '/t/1', 'back where they came from')
  t.ok(cookieFrom(second, SESSION_COOKIE), 'with a session')
  const users = await app.db.selectFrom('users').select('id').where('email', '=', 'sam@example.org').execute()
  t.equal(users.length, 1, 'one account')

  const other = await register('someone else guessing')
  t.equal(other.statusCode, 409)
  t.match(other.body, /already exists/)
  t.notOk(cookieFrom(other, SESSION_COOKIE), 'and signs nobody in')
})

t.test('the /logout address offers the sign-out button; the button signs out', async (t) => {
  const { app } = await buildTestApp(t)
  const user = await makeUser(app, 'customer', { name: 'Zoé <Admin>' })
  t.equal((await app.inject({ url: '/logout' })).headers.location, '/', 'nobody signed in: back to the incidents')
  const cookies = await signIn(app, user)
  const page = await app.inject({ url: '/logout', cookies })
  t.equal(page.statusCode, 200)
  t.match(page.body, /You are signed in as <bdi>Zoé &lt;Admin&gt;<\/bdi>\. Sign out on this device\?/)
  t.match((await app.inject({ url: '/logout?lang=fr', cookies })).body, /Session ouverte au nom de <bdi>Zoé &lt;Admin&gt;<\/bdi>\. Vous déconnecter sur cet appareil/)
  const out = await app.inject({ method: 'POST', url: '/logout', cookies, payload: { _csrf: csrfFieldOf(page.body) } })
  t.equal(out.statusCode, 303)
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).statusCode, 401, 'signed out')
  t.equal(out.headers.location, '/logout?done=1')
  const done = await app.inject({ url: '/logout?done=1' })
  t.equal(done.statusCode, 200)
  t.match(done.body, /role="status">You are signed out on this device\.<\/p>/, 'and told so')
  t.match(done.body, /<a href="\/">Back to the incidents<\/a> · <a href="\/login">/)
  t.match((await app.inject({ url: '/logout?done=1', headers: { 'accept-language': 'fr' } })).body, /Vous êtes déconnecté sur cet appareil\./)
})
