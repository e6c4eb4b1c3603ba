import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { BrowserContextOptions, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { createApiToken } from '../../src/domain/tokens.ts'
import type { Post, Thread } from '../../src/domain/views.ts'
import { PASSWORD, type TestUser, cookieFrom, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { type Site, browserAvailable, startSite } from '../helpers/browser.ts'
import { NAUGHTY_SCRIPTS, NAUGHTY_STRINGS, XSS_PAYLOADS, packed } from '../helpers/hostile.ts'
import { apiAs, signIn, submitForm } from '../helpers/pages.ts'

// Every way text gets in (titles, posts, replies, edits, handovers, summaries,
// hide and flag reasons, names and e-mail addresses at registration, query
// strings and addresses), then every kind of page, as each kind of user, in
// Chromium. The pages are loaded with the content security policy switched
// off: it would stop most of these scripts, and the escaping must hold
// without it. The policy is checked on its own at the end.

/**
 * What in a document could run script or was not written by our templates:
 * foreign elements, event handler attributes, script URLs. Plain JavaScript
 * in a string, evaluated in the page as it is.
 */
const FIND_ACTIVE = `function findActive (root) {
  var found = []
  var SCHEME = /^(javascript|data|vbscript):/i
  var URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'srcset', 'background', 'ping', 'codebase', 'cite', 'manifest']
  var ACTIVE = ['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'svg', 'math', 'img', 'image', 'video', 'audio', 'source', 'track', 'style', 'template', 'noscript', 'marquee', 'portal', 'canvas', 'xmp', 'plaintext', 'listing']
  var elements = root.querySelectorAll('*')
  for (var i = 0; i < elements.length; i++) {
    var element = elements[i]
    var tag = element.localName
    if (tag === 'script') {
      if (!/^\\/static\\/[\\w.-]+\\.js$/.test(element.getAttribute('src') || '')) found.push('<script> that is not ours')
    } else if (tag === 'meta' && element.hasAttribute('http-equiv')) {
      found.push('<meta http-equiv>')
    } else if (tag === 'link' && !/^(stylesheet|icon|alternate|canonical)$/.test(element.getAttribute('rel') || '')) {
      found.push('<link rel="' + element.getAttribute('rel') + '">')
    } else if (ACTIVE.indexOf(tag) >= 0) {
      found.push('<' + tag + '>')
    }
    for (var j = 0; j < element.attributes.length; j++) {
      var attribute = element.attributes[j]
      var name = attribute.name.toLowerCase()
      if (name.indexOf('on') === 0) found.push(name + '= on <' + tag + '>')
      if (name === 'style') found.push('style= on <' + tag + '>')
      if (URL_ATTRIBUTES.indexOf(name) >= 0 && SCHEME.test(attribute.value.replace(/[\\u0000-\\u0020]/g, ''))) {
        found.push(name + '="' + attribute.value.slice(0, 60) + '" on <' + tag + '>')
      }
    }
  }
  return found
}`

/** A feed: well-formed, nothing but Atom, and what it carries as HTML (readers render it) as harmless as a page. */
const feedProblems = (url: string) => `(async function () {
  var findActive = ${FIND_ACTIVE}
  var response = await fetch(${JSON.stringify(url)})
  var xml = new DOMParser().parseFromString(await response.text(), 'application/xml')
  if (xml.getElementsByTagName('parsererror').length > 0) return ['not well-formed XML']
  var found = []
  var all = xml.getElementsByTagName('*')
  for (var i = 0; i < all.length; i++) {
    if (all[i].namespaceURI !== 'http://www.w3.org/2005/Atom') found.push('<' + all[i].localName + '> outside Atom')
    if (all[i].getAttribute('type') === 'html') found = found.concat(findActive(new DOMParser().parseFromString(all[i].textContent, 'text/html')))
  }
  return found
})()`

/** A browser context for one person, and what went wrong in it: dialogs, 5xx answers, errors of the page's own scripts. */
interface Watched { page: Page, problems: string[] }

async function watch (t: Test, site: Site, options: BrowserContextOptions = {}): Promise<Watched> {
  const { context, page } = await site.open({ bypassCSP: true, ...options })
  t.teardown(() => context.close())
  const problems: string[] = []
  page.on('dialog', (dialog) => {
    problems.push(`a script ran: dialog "${dialog.message()}" on ${page.url()}`)
    void dialog.dismiss()
  })
  page.on('response', (res) => { if (res.status() >= 500) problems.push(`${res.status()} for ${res.request().method()} ${res.url()}`) })
  page.on('pageerror', (err) => problems.push(`the page's script failed on ${page.url()}: ${err.message}`))
  return { page, problems }
}

/** Lets handlers that fire late (focus, toggle, load errors) fire, then looks for their traces and for anything active in the page. */
async function inspect ({ page, problems }: Watched): Promise<void> {
  await page.waitForTimeout(100)
  const pwned = await page.evaluate('window.__pwned')
  if (pwned !== undefined) problems.push(`a script ran: window.__pwned = ${String(pwned)} on ${page.url()}`)
  for (const found of await page.evaluate(`(${FIND_ACTIVE})(document)`) as string[]) problems.push(`${found} on ${page.url()}`)
}

async function visit (watched: Watched, url: string): Promise<void> {
  const res = await watched.page.goto(url)
  if (res === null) watched.problems.push(`no answer for ${url}`)
  if (url.endsWith('.atom')) {
    for (const found of await watched.page.evaluate(feedProblems(url)) as string[]) watched.problems.push(`${found} in ${url}`)
    return
  }
  await inspect(watched)
}

/** Sends a form in the page with these values, past the browser's own checks (the server's are the ones tested), and inspects the answer. */
async function sendForm (watched: Watched, form: string, fields: Record<string, string>): Promise<void> {
  const { page } = watched
  await page.locator(form).evaluate((element) => {
    const sent = element as HTMLFormElement
    sent.noValidate = true
    // Number and e-mail fields would refuse or clean up some of the text.
    for (const input of Array.from(sent.querySelectorAll('input'))) if (input.type === 'number' || input.type === 'email') input.type = 'text'
  })
  for (const [name, value] of Object.entries(fields)) await page.locator(`${form} [name="${name}"]`).fill(value)
  await Promise.all([
    page.waitForResponse((res) => res.request().method() === 'POST'),
    page.locator(`${form} button[type="submit"]`).first().click()
  ])
  await page.waitForLoadState('load')
  await inspect(watched)
}

/** Checks a set-up step answered as expected; a 5xx fails the test. */
function planted (t: Test, res: LightMyRequestResponse, expected: number, what: string): LightMyRequestResponse {
  if (res.statusCode !== expected) t.fail(`${what}: expected ${expected}, got ${res.statusCode}`, { body: res.body.slice(0, 300) })
  return res
}

/** Sends a form of a page as a visitor who is not signed in: the page's CSRF cookie and token. */
async function anonymousForm (app: FastifyInstance, page: string, action: string, fields: Record<string, string>): Promise<LightMyRequestResponse> {
  const form = await app.inject({ url: page })
  return await app.inject({
    method: 'POST',
    url: action,
    cookies: { sitrep_csrf: cookieFrom(form, 'sitrep_csrf') ?? '' },
    payload: { _csrf: csrfFieldOf(form.body), ...fields }
  })
}

/** Registers through the form, as a person would, and gives the account an API token for the set-up steps. */
async function register (t: Test, app: FastifyInstance, name: string, email: string): Promise<TestUser> {
  planted(t, await anonymousForm(app, '/register', '/register', { name, email, password: PASSWORD }), 303, `registering ${name}`)
  const row = await app.db.selectFrom('users').select(['id', 'email', 'name', 'role', 'shift', 'locale']).where('email', '=', email).executeTakeFirstOrThrow()
  t.equal(row.name, name, 'the name is kept as typed')
  const token = await createApiToken(app.db, row.id)
  return { actor: row, token, auth: { authorization: `Bearer ${token}` } }
}

if (browserAvailable(t)) {
  const site = await startSite(t)
  const { app } = site

  // The payloads' titles come first: those threads get their own page visits; the rest show in the lists.
  const TITLES = [...packed(XSS_PAYLOADS, 200, ' '), ...packed(NAUGHTY_SCRIPTS, 200, ' ')]
  const VISITED_TITLES = packed(XSS_PAYLOADS, 200, ' ').length
  const NAMES = packed(XSS_PAYLOADS.filter((p) => p.length <= 80), 80, ' ')
  const BODIES = packed(XSS_PAYLOADS, 20_000)
  const NAUGHTY_BODIES = packed(NAUGHTY_STRINGS, 20_000)
  const REASONS = packed(XSS_PAYLOADS, 500, ' ')
  const NOTES = packed(XSS_PAYLOADS, 2000)
  const everything = BODIES[0]!
  // Short payloads for places with a length limit of their own, or in addresses.
  const SHORT = XSS_PAYLOADS.filter((p) => p.length <= 60)
  // The browser's own check refuses such addresses at sign-in: the accounts that sign in there have plain ones.
  // (< > " ( ) are refused in an address: a mailer would read them as another's.)
  const emailOf = (n: number) => `'/autofocus/onfocus=alert\`${900 + n}\`//'@x${n}.example`

  const state = {} as {
    admin: TestUser, tech: TestUser, customer: TestUser, moderator: TestUser, other: TestUser
    main: Thread, titled: Thread[], update: Post, question: Post, reply: Post, edited: Post, hidden: Post[]
  }

  t.test('hostile text goes in through every input, and bad input is refused without a 5xx', async (t) => {
    state.admin = await makeUser(app, 'admin', { name: NAMES[0]! })
    const adminCookies = await signIn(app, state.admin)
    state.customer = await register(t, app, NAMES[1]!, 'customer@example.org')
    const futureTech = await register(t, app, NAMES[2]!, 'technician@example.org')
    const futureModerator = await register(t, app, NAMES[3]!, 'moderator@example.org')
    await register(t, app, NAMES[5] ?? NAMES[0]!, emailOf(1))
    state.other = await makeUser(app, 'customer', { name: NAMES[4]! })
    planted(t, await submitForm(app, adminCookies, '/admin/users', `/admin/users/${futureTech.actor.id}`, { role: 'technician', shift: 'day' }), 303, 'making a technician')
    planted(t, await submitForm(app, adminCookies, '/admin/users', `/admin/users/${futureModerator.actor.id}`, { role: 'moderator', shift: '' }), 303, 'making a moderator')
    state.tech = { ...futureTech, actor: { ...futureTech.actor, role: 'technician', shift: 'day' } }
    state.moderator = { ...futureModerator, actor: { ...futureModerator.actor, role: 'moderator' } }
    planted(t, await submitForm(app, adminCookies, '/admin/tokens', '/admin/tokens', { userId: String(state.customer.actor.id) }), 200, 'a token for a hostile name')

    const techCookies = await signIn(app, state.tech)
    const modCookies = await signIn(app, state.moderator)
    const customerCookies = await signIn(app, state.customer)
    planted(t, await submitForm(app, techCookies, '/', '/duty/check-in', { lead: 'on', next: '/' }), 303, 'checking in as lead')

    // Threads: one per chunk of titles, each opening with some of the payloads.
    state.main = await apiAs<Thread>(app, state.tech, 'POST', '/threads', { title: TITLES[0]!, body: everything })
    state.titled = [state.main]
    for (const title of TITLES.slice(1)) state.titled.push(await apiAs<Thread>(app, state.tech, 'POST', '/threads', { title, body: title }))
    planted(t, await submitForm(app, techCookies, '/new', '/new', { title: SHORT[0]!, body: everything, status: 'identified' }), 303, 'a thread through the form')
    const main = state.main.id

    // Posts of every kind, through the API and through the forms.
    state.update = await apiAs<Post>(app, state.tech, 'POST', `/threads/${main}/posts`, { body: BODIES.at(-1)!, status: 'identified' })
    state.question = await apiAs<Post>(app, state.customer, 'POST', `/threads/${main}/posts`, { body: everything })
    for (const body of NAUGHTY_BODIES) await apiAs(app, state.customer, 'POST', `/threads/${main}/posts`, { body })
    state.reply = await apiAs<Post>(app, state.customer, 'POST', `/threads/${main}/posts`, { body: SHORT.join(' '), replyTo: state.update.id })
    planted(t, await submitForm(app, customerCookies, `/t/${main}`, `/t/${main}/posts`, { body: everything, replyTo: String(state.update.id) }), 303, 'a reply through the form')
    planted(t, await submitForm(app, techCookies, `/t/${main}`, `/t/${main}/posts`, { body: everything, kind: 'update', status: 'monitoring', next: '15' }), 303, 'an update through the form')
    planted(t, await submitForm(app, techCookies, `/t/${main}/handover`, `/t/${main}/handover`, { done: NOTES[0]!, pending: NOTES[1] ?? NOTES[0]!, nextSteps: NOTES.at(-1)!, next: '30' }), 303, 'a handover through the form')
    planted(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${main}/handover`, headers: state.tech.auth, payload: { done: SHORT[1], pending: SHORT[2], next: SHORT[3] } }), 201, 'a handover through the API')

    // Moderation: a summary pinned then replaced (a pin history), edits (revisions and audit), hides with reasons, flags, an answer, a new title.
    planted(t, await submitForm(app, modCookies, `/t/${main}`, `/t/${main}/summary`, { body: everything }), 303, 'a summary through the form')
    await apiAs(app, state.moderator, 'PUT', `/threads/${main}/pin`, { postId: state.update.id })
    planted(t, await submitForm(app, customerCookies, `/posts/${state.question.id}/edit`, `/posts/${state.question.id}/edit`, { body: BODIES.at(-1)! + '\n\nEdited.' }), 303, 'an edit through the form')
    state.edited = await apiAs<Post>(app, state.moderator, 'PATCH', `/posts/${state.reply.id}`, { body: everything })
    state.hidden = []
    for (const [i, reason] of REASONS.entries()) {
      const post = await apiAs<Post>(app, state.other, 'POST', `/threads/${main}/posts`, { body: SHORT[i % SHORT.length]! })
      if (i % 2 === 0) planted(t, await submitForm(app, modCookies, `/t/${main}`, `/posts/${post.id}/hide`, { reason }), 303, 'a hide through the form')
      else await apiAs(app, state.moderator, 'POST', `/posts/${post.id}/hide`, { reason })
      state.hidden.push(post)
    }
    const flagged = await apiAs<Post>(app, state.other, 'POST', `/threads/${main}/posts`, { body: everything })
    planted(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${flagged.id}/flags`, headers: state.customer.auth, payload: { reason: 'spam' } }), 201, 'a flag')
    planted(t, await submitForm(app, techCookies, `/t/${main}`, `/posts/${flagged.id}/flag`, { reason: 'rumour' }), 303, 'a flag through the form')
    planted(t, await submitForm(app, modCookies, `/t/${main}`, `/posts/${state.question.id}/answer`, { updateId: String(state.update.id) }), 303, 'an answer link')
    planted(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${state.titled[1]!.id}`, headers: state.moderator.auth, payload: { title: SHORT[4] } }), 200, 'a new title')

    // Refused, as bad input: never a 5xx, never stored.
    for (const reason of SHORT.slice(0, 5)) {
      planted(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${flagged.id}/flags`, headers: state.tech.auth, payload: { reason } }), 400, 'a flag with a made-up reason')
      planted(t, await submitForm(app, customerCookies, `/t/${main}`, `/posts/${flagged.id}/flag`, { reason }), 400, 'a flag form with a made-up reason')
    }
    planted(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${main}/posts`, headers: state.customer.auth, payload: { body: `${SHORT[0]}\u0000` } }), 400, 'a post with U+0000')
    planted(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${flagged.id}/hide`, headers: state.moderator.auth, payload: { reason: `${SHORT[0]}\u0000` } }), 400, 'a reason with U+0000')
    planted(t, await anonymousForm(app, '/register', '/register', { name: `${SHORT[0]}\u0000`, email: 'nul@example.org', password: PASSWORD }), 400, 'a name with U+0000')
    planted(t, await anonymousForm(app, '/login', '/login', { email: `${SHORT[0]}\u0000@x.example`, password: PASSWORD }), 401, 'signing in as U+0000')
    planted(t, await anonymousForm(app, '/register', '/register', { name: 'Taken', email: emailOf(1), password: 'not the password of that account' }), 409, 'an address taken')
    planted(t, await anonymousForm(app, '/register', '/register', { name: 'Markup', email: '"><svg/onload=alert(999)>@x.example', password: PASSWORD }), 400, 'an address with markup in it')

    // The promised update is now overdue: staff see the titles in the alert on every page.
    site.advance(20 * 60_000)
  })

  const q = (text: string) => encodeURIComponent(text)
  const hostileQueries = (threadId: number) => [
    `/?lang=${q(SHORT[0]!)}&view=${q(SHORT[1]!)}`,
    `/t/${threadId}?view=${q(SHORT[2]!)}&after=${q(SHORT[3]!)}&replyTo=${q(SHORT[4]!)}`,
    `/t/${threadId}/${q(SHORT[5]!)}?${q(SHORT[6]!)}=${q(SHORT[7]!)}`,
    `/t/${threadId}/timeline?lang=${q(SHORT[8]!)}`,
    `/login?next=${q(SHORT[9]!)}`,
    `/login?next=${q('javascript:alert(800)')}`,
    `/register?next=${q(SHORT[10]!)}`,
    `/t/${q(SHORT[11]!)}`,
    `/nothing/${q(SHORT[12]!)}?${q(SHORT[13]!)}`,
    `/posts/${q(SHORT[14]!)}/edit`
  ]

  t.test('the detectors see a script that runs and markup that could', async (t) => {
    const watched = await watch(t, site)
    await visit(watched, '/')
    t.same(watched.problems, [], 'a clean page raises nothing')
    await watched.page.evaluate(() => { document.body.insertAdjacentHTML('beforeend', '<img src="x" onerror="alert(0)"><a href="javascript:void 0">x</a>') })
    await inspect(watched)
    t.match(watched.problems.join('\n'), /dialog "0"/, 'the dialog of a handler that ran is caught')
    t.match(watched.problems.join('\n'), /onerror= on <img>/, 'an event handler attribute is found')
    t.match(watched.problems.join('\n'), /href="javascript:void 0" on <a>/, 'a script URL is found')
  })

  t.test('an anonymous reader: no script runs on any page, nothing active is in them, no 5xx', async (t) => {
    const watched = await watch(t, site)
    const main = state.main.id
    for (const url of ['/', `/t/${main}`, `/t/${main}?view=official`, `/t/${main}/timeline`, '/login', '/register', '/feed.atom', `/t/${main}/feed.atom`]) {
      await visit(watched, url)
    }
    for (const thread of state.titled.slice(1, VISITED_TITLES)) await visit(watched, `/t/${thread.id}`)
    for (const url of hostileQueries(main)) await visit(watched, url)
    t.same(watched.problems, [], 'nothing ran, nothing was injected')

    // Inert, and still there: the text shows as the people typed it.
    await watched.page.goto(`/t/${main}`)
    t.equal((await watched.page.locator('.thread__title').textContent())?.trim(), state.main.title, 'the title reads as typed')
    t.match(await watched.page.locator('#posts .post__body').first().textContent(), '<script>alert(1)</script>', 'a post shows the script as text')
    const authors = (await watched.page.locator('#posts .post__author').allTextContents()).map((name) => name.trim())
    t.ok(authors.includes(state.customer.actor.name), 'and so does a hostile name')
  })

  t.test('signed in as each kind of user, the pages they see are just as inert', async (t) => {
    const main = state.main.id
    const pagesOf: Array<[string, TestUser, string[]]> = [
      ['customer', state.customer, ['/', `/t/${main}`, `/t/${main}?view=official`, `/t/${main}/timeline`, `/t/${main}?replyTo=${state.update.id}`, `/posts/${state.question.id}/edit`]],
      ['technician', state.tech, ['/', `/t/${main}`, `/t/${main}/handover`, '/new', `/t/${state.titled[1]!.id}`, `/t/${main}/timeline`]],
      ['moderator', state.moderator, [
        '/', `/t/${main}`, `/t/${main}?view=official`, `/posts/${state.question.id}/history`, `/posts/${state.edited.id}/history`,
        `/posts/${state.edited.id}/edit`, '/mod/flags', '/mod/audit', `/mod/audit?threadId=${main}`, `/mod/audit?actorId=${state.moderator.actor.id}`,
        `/mod/audit?threadId=${q(SHORT[0]!)}&actorId=${q(SHORT[1]!)}`
      ]],
      ['admin', state.admin, ['/admin/users', '/admin/tokens', `/admin/shifts?saved=${q(SHORT[2]!)}`, '/', `/t/${main}`, '/mod/audit', '/mod/flags']]
    ]
    for (const [role, user, urls] of pagesOf) {
      const watched = await watch(t, site)
      await site.signIn(watched.page, user)
      for (const url of [...urls, ...hostileQueries(main).slice(0, 2)]) await visit(watched, url)
      t.same(watched.problems, [], `as ${role}: nothing ran, nothing was injected`)
    }
  })

  t.test('forms shown again with an error keep the hostile text inert', async (t) => {
    const main = state.main.id
    const anonymous = await watch(t, site)
    await anonymous.page.goto('/login')
    await sendForm(anonymous, 'form[action="/login"]', { email: emailOf(1), password: 'not the password' })
    await anonymous.page.goto('/register')
    await sendForm(anonymous, 'form[action="/register"]', { name: SHORT[0]!, email: emailOf(7), password: 'short' })
    t.match(await anonymous.page.locator('input[name="name"]').inputValue(), SHORT[0]!, 'the typed name comes back as typed')
    t.same(anonymous.problems, [], 'signing in and registering')

    const tech = await watch(t, site)
    await site.signIn(tech.page, state.tech)
    await tech.page.goto('/new')
    await sendForm(tech, 'form[action="/new"]', { title: `${everything.slice(0, 150)}${'x'.repeat(200)}`, body: everything })
    await tech.page.goto(`/t/${main}`)
    await sendForm(tech, '#compose form', { body: `${everything}${'x'.repeat(20_001)}` })
    await tech.page.goto(`/t/${main}/handover`)
    await sendForm(tech, '#handover', { done: `${NOTES[0]}${'x'.repeat(20_001)}`, pending: NOTES[0]!, nextSteps: SHORT[0]! })
    t.same(tech.problems, [], 'a new incident, an update and a handover refused')

    const customer = await watch(t, site)
    await site.signIn(customer.page, state.customer)
    await customer.page.goto(`/posts/${state.question.id}/edit`)
    await sendForm(customer, `form[action="/posts/${state.question.id}/edit"]`, { body: `${everything}${'x'.repeat(20_001)}` })
    t.same(customer.problems, [], 'an edit refused')

    const admin = await watch(t, site)
    await site.signIn(admin.page, state.admin)
    await admin.page.goto('/admin/shifts')
    await sendForm(admin, '#shift-schedule', { day: SHORT[0]!, evening: SHORT[1]!, night: SHORT[2]! })
    t.same(admin.problems, [], 'a shift schedule refused')
  })

  t.test('hostile posts, edits, hides and pins arriving live leave open pages inert', async (t) => {
    const main = state.main.id
    const reader = await watch(t, site)
    const moderator = await watch(t, site)
    await site.signIn(moderator.page, state.moderator)
    for (const { page } of [reader, moderator]) {
      await page.goto(`/t/${main}`)
      await page.locator('#live-status[data-state="live"]').waitFor()
    }
    const comment = await apiAs<Post>(app, state.customer, 'POST', `/threads/${main}/posts`, { body: everything })
    const update = await apiAs<Post>(app, state.tech, 'POST', `/threads/${main}/posts`, { body: BODIES.at(-1)!, status: 'identified' })
    await apiAs(app, state.customer, 'PATCH', `/posts/${comment.id}`, { body: NAUGHTY_BODIES[0]! })
    await apiAs(app, state.moderator, 'POST', `/posts/${comment.id}/hide`, { reason: REASONS[0]! })
    await apiAs(app, state.moderator, 'PUT', `/threads/${main}/pin`, { postId: update.id })
    const last = await apiAs<Post>(app, state.other, 'POST', `/threads/${main}/posts`, { body: `${SHORT.join('\n')}\n\nLast.` })
    for (const watched of [reader, moderator]) {
      await watched.page.locator(`#p-${last.id}`).waitFor()
      await watched.page.locator(`#current-state [data-post-id="${update.id}"]`).waitFor()
      await inspect(watched)
    }
    t.same(reader.problems, [], 'an anonymous reader\'s page')
    t.same(moderator.problems, [], 'a moderator\'s page, with the hidden text shown')
  })

  t.test('with the content security policy on, the pages break none of its rules', async (t) => {
    const watched = await watch(t, site, { bypassCSP: false })
    await watched.page.addInitScript(() => {
      const seen: string[] = []
      ;(window as unknown as { __violations: string[] }).__violations = seen
      document.addEventListener('securitypolicyviolation', (event) => { seen.push(`${event.violatedDirective} ${event.blockedURI}`) })
    })
    const main = state.main.id
    const violations: string[] = []
    for (const url of ['/', `/t/${main}`, `/t/${main}/timeline`, `/t/${state.titled[1]!.id}`, ...hostileQueries(main).slice(0, 6)]) {
      await visit(watched, url)
      for (const violation of await watched.page.evaluate('window.__violations') as string[]) violations.push(`${violation} on ${url}`)
    }
    t.same(violations, [], 'no violation of the policy')
    t.same(watched.problems, [], 'and nothing ran')

    await watched.page.evaluate(() => { document.body.insertAdjacentHTML('beforeend', '<img src="x" onerror="alert(0)">') })
    await watched.page.waitForTimeout(100)
    t.match(await watched.page.evaluate('window.__violations') as string[], [/script-src/], 'the check sees a handler the policy blocks')
  })
}
