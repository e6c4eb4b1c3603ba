import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { chromium } from 'playwright-core'
import t from 'tap'
import { PASSWORD, csrfFieldOf } from '../helpers/app.ts'
import { CHROMIUM_ARGS, CHROMIUM_PATH, browserAvailable } from '../helpers/browser.ts'
import { serverBinariesAvailable, startCluster } from '../helpers/cluster.ts'
import { type Answer, CookieJar, call, makeAccount, ready, signInOver, startServer } from '../helpers/server.ts'

// Needs PostgreSQL's server programs: without them, skipped with a reason.
if (serverBinariesAvailable(t)) {
  const cluster = await startCluster(t)
  const databaseUrl = await cluster.createDatabase('sitrep')
  const server = await startServer(t, databaseUrl)
  const tech = await makeAccount(databaseUrl, 'technician', 'evening@example.org')
  const { base } = server

  const newThread = async (title: string): Promise<number> => {
    const opened = await call(base, 'POST', '/api/v1/threads', { token: tech.token, json: { title, body: `${title}: first report.` } })
    if (opened.status !== 201) throw new Error(`opening a thread answered ${opened.status}`)
    return opened.json.id
  }

  /** Runs `during` with the database crashed, then starts it again and waits until the app is ready. */
  const withDatabaseDown = async (during: () => Promise<void>) => {
    await cluster.crash()
    try {
      await during()
    } finally {
      await cluster.start()
      await ready(base)
    }
  }

  const bodiesOf = async (threadId: number): Promise<string[]> =>
    (await call(base, 'GET', `/api/v1/threads/${threadId}/posts`)).json.posts.map((p: { body: string }) => p.body)

  const FRENCH_MESSAGE = /La base de données ne répond pas/
  const ENGLISH_MESSAGE = /The database does not answer/

  t.test('while the database is down, the JSON API answers 503 database_unavailable with Retry-After, never 500', async (t) => {
    const threadId = await newThread('Storage array degraded')
    const post = { body: 'Controller B replaced, rebuilding.' }
    const key = randomUUID()

    await withDatabaseDown(async () => {
      const answers: [string, Answer][] = [
        ['a post', await call(base, 'POST', `/api/v1/threads/${threadId}/posts`, { token: tech.token, json: post, headers: { 'idempotency-key': key } })],
        ['a new thread', await call(base, 'POST', '/api/v1/threads', { token: tech.token, json: { title: 'Another one', body: 'Start.' } })],
        ['a status change', await call(base, 'PATCH', `/api/v1/threads/${threadId}`, { token: tech.token, json: { status: 'identified' } })],
        ['a read', await call(base, 'GET', `/api/v1/threads/${threadId}/posts`)]
      ]
      for (const [what, answer] of answers) {
        t.equal(answer.status, 503, `${what} answers 503`, { body: answer.text.slice(0, 300) })
        t.equal(answer.headers.get('retry-after'), '5', `${what} says when to try again`)
        t.match(answer.headers.get('content-type'), /^application\/json/)
        t.same(Object.keys(answer.json ?? {}), ['error'], `${what}: the body holds the error alone`)
        t.same(Object.keys(answer.json?.error ?? {}).sort(), ['code', 'message'])
        t.equal(answer.json?.error?.code, 'database_unavailable')
        t.match(answer.json?.error?.message, ENGLISH_MESSAGE, `${what}: the message says why`)
        t.notMatch(answer.text, /\bat .+:\d+:\d+|node_modules|ECONNREFUSED|postgres/i, `${what}: nothing of the server's insides`)
      }
      const french = await call(base, 'POST', `/api/v1/threads/${threadId}/posts`, { token: tech.token, json: post, headers: { 'accept-language': 'fr-FR,fr;q=0.9' } })
      t.equal(french.status, 503)
      t.match(french.json?.error?.message, FRENCH_MESSAGE, 'in French for a client that reads French')

      t.equal((await call(base, 'GET', '/readyz')).status, 503, '/readyz reports the outage')
      t.equal((await call(base, 'GET', '/healthz')).status, 200, '/healthz: the process itself is fine')
      t.equal((await call(base, 'GET', '/healthz', { token: 'sitrep_revoked-or-made-up' })).status, 200, 'whatever credentials the probe sends')
      t.equal((await call(base, 'GET', '/healthz', { headers: { cookie: 'sitrep_session=a-session-not-kept' } })).status, 200, 'a session it would have to look up too')
    })

    const retried = await call(base, 'POST', `/api/v1/threads/${threadId}/posts`, { token: tech.token, json: post, headers: { 'idempotency-key': key } })
    t.equal(retried.status, 201, 'once the database is back, the same request goes through')
    t.same(await bodiesOf(threadId), ['Storage array degraded: first report.', post.body], 'posted once')
    t.ok(server.alive(), 'the app process never stopped')
  })

  t.test('a database taken offline (the server up, refusing connections to it) is an outage too: 503, never 500', async (t) => {
    const threadId = await newThread('Hypervisor cluster split')
    const admin = new pg.Client({ connectionString: cluster.url('postgres') })
    await admin.connect()
    t.teardown(() => admin.end())
    await admin.query('alter database sitrep allow_connections false')
    try {
      // Its open connections cut, as an operator taking it offline does: new ones are refused.
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'sitrep'")
      const answers: [string, Answer][] = [
        ['a read', await call(base, 'GET', `/api/v1/threads/${threadId}`)],
        ['a post', await call(base, 'POST', `/api/v1/threads/${threadId}/posts`, { token: tech.token, json: { body: 'Still here.' } })]
      ]
      for (const [what, answer] of answers) {
        t.equal(answer.status, 503, `${what} answers 503`, { body: answer.text.slice(0, 300) })
        t.equal(answer.headers.get('retry-after'), '5', `${what} says when to try again`)
        t.equal(answer.json?.error?.code, 'database_unavailable')
      }
    } finally {
      await admin.query('alter database sitrep allow_connections true')
    }
    await ready(base)
    t.equal((await call(base, 'GET', `/api/v1/threads/${threadId}`)).status, 200, 'back once it takes connections again')
  })

  t.test('a form sent while the database is down gets a 503 page in the reader\'s language; sent again, it posts once', async (t) => {
    const threadId = await newThread('Campus Wi-Fi down')
    const jar = await signInOver(base, tech.email)
    const page = await call(base, 'GET', `/t/${threadId}`, { jar })
    t.equal(page.status, 200, 'the technician has the thread page with its form')
    const form = {
      _csrf: csrfFieldOf(page.text),
      idempotencyKey: /name="idempotencyKey" value="([^"]+)"/.exec(page.text)?.[1] ?? '',
      body: 'Access points rebooting building by building.',
      kind: 'update',
      next: 'none'
    }

    const stranger = new CookieJar()
    const loginPage = await call(base, 'GET', '/login', { jar: stranger })

    await withDatabaseDown(async () => {
      for (const [language, accept, message, lang] of [['French', 'fr-FR,fr;q=0.9', FRENCH_MESSAGE, 'fr'], ['English', 'en-GB,en;q=0.9', ENGLISH_MESSAGE, 'en']] as const) {
        const sent = await call(base, 'POST', `/t/${threadId}/posts`, { jar, form, headers: { 'accept-language': accept } })
        t.equal(sent.status, 503, `${language}: 503, not 500`, { body: sent.text.slice(0, 300) })
        t.equal(sent.headers.get('retry-after'), '5', `${language}: with Retry-After`)
        t.match(sent.headers.get('content-type'), /^text\/html/, `${language}: an error page`)
        t.match(sent.text, new RegExp(`<html[^>]* lang="${lang}"`), `${language}: the page is in ${language}`)
        t.match(sent.text, message, `${language}: it says the database does not answer`)
        // The page's script keeps the draft until the server answers a post with the way back to it.
        t.equal(sent.headers.get('location'), null, `${language}: not the redirect to the post that drops the draft`)
        t.notMatch(sent.text, /\bat .+:\d+:\d+|node_modules|ECONNREFUSED/, `${language}: nothing of the server's insides`)
      }
      const login = await call(base, 'POST', '/login', { jar: stranger, form: { _csrf: csrfFieldOf(loginPage.text), email: tech.email, password: PASSWORD }, headers: { 'accept-language': 'fr' } })
      t.equal(login.status, 503, 'signing in waits too, with a 503')
      t.match(login.text, FRENCH_MESSAGE)
    })

    const again = await call(base, 'POST', `/t/${threadId}/posts`, { jar, form })
    t.equal(again.status, 303, 'once the database is back, the same form is taken')
    t.match(again.headers.get('location'), new RegExp(`^/t/${threadId}#p-\\d+$`), 'and leads to the new post')
    const twice = await call(base, 'POST', `/t/${threadId}/posts`, { jar, form })
    t.equal(twice.headers.get('location'), again.headers.get('location'), 'a second send leads to the same post')
    t.same(await bodiesOf(threadId), ['Campus Wi-Fi down: first report.', form.body], 'posted once')
  })

  t.test('in a browser, the text a technician typed survives a post the database could not take', async (t) => {
    if (!browserAvailable(t)) return
    const threadId = await newThread('Mail delivery delayed')
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 })
    t.teardown(() => browser.close())
    const context = await browser.newContext({ baseURL: base, locale: 'fr-FR' })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    await page.goto('/login')
    await page.locator('input[name="email"]').fill(tech.email)
    await page.locator('input[name="password"]').fill(PASSWORD)
    await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.locator('form[action="/login"] button[type="submit"]').click()])
    await page.goto(`/t/${threadId}`)
    const text = 'Queue at 40 000 messages, second relay coming up.'
    await page.locator('#body').fill(text)

    await withDatabaseDown(async () => {
      const [answer] = await Promise.all([page.waitForNavigation(), page.locator('#compose button[type="submit"]').click()])
      t.equal(answer?.status(), 503, 'the post answers 503')
      t.match(await page.locator('main').textContent(), FRENCH_MESSAGE, 'the page says, in French, that the database does not answer')
    })

    await page.goto(`/t/${threadId}`)
    t.equal(await page.locator('#body').inputValue(), text, 'back on the thread, what was typed is in the form')
    t.ok(await page.locator('.draft-note').isVisible(), 'with a word saying it was kept')
    await page.locator('#compose button[type="submit"]').click()
    await page.waitForURL(/#p-\d+$/)
    t.match(await page.locator('#posts > .post').last().textContent(), /second relay coming up/, 'sent again, it is posted')
    await page.goto(`/t/${threadId}`)
    t.equal(await page.locator('#body').inputValue(), '', 'and the draft is gone once the server has taken it')
  })
}
