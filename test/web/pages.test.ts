import t, { type Test } from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import { RESOLVED_PER_PAGE } from '../../src/web/routes/pages/incidents.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs, escaped, sectionById, signIn, submitForm } from '../helpers/pages.ts'

const MINUTE = 60_000
const inMinutes = (minutes: number) => new Date(Date.now() + minutes * MINUTE).toISOString()

/** Nothing the CSP would block, on any page: no inline script, no style attribute. */
function assertNoInlineCode (t: Test, html: string): void {
  t.notMatch(html, /<script\b(?![^>]*\ssrc="\/static\/(live|reader)\.js")/i, 'no <script> element but our own files')
  t.notMatch(html, /<[^>]+\sstyle\s*=/i, 'no style attribute')
  t.notMatch(html, /<[^>]+\son[a-z]+\s*=/i, 'no event handler attribute')
}

t.test('the incident list shows open incidents before resolved ones, with their next update', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const old = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail relay outage', body: 'Mail is queued.' })
  const current = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  await apiAs(app, tech, 'POST', `/threads/${current.id}/posts`, { body: 'Spare on its way.', nextUpdateAt: inMinutes(30) })
  await apiAs(app, tech, 'POST', `/threads/${old.id}/posts`, { body: 'All mail delivered.', status: 'resolved' })

  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/)
  const html = res.body
  t.ok(html.indexOf('Campus network down') < html.indexOf('Mail relay outage'), 'the open incident comes first, though the resolved one moved last')
  t.match(html, /href="\/t\/\d+\/campus-network-down"/, 'the title links to the thread, with a readable slug')
  t.match(sectionById(html, 'open-title'), /Open incidents/)
  t.match(html, /class="status status--resolved">Resolved</, 'the resolved incident says so')
  t.match(html, /Next update by <time datetime="[^"]+"[^>]*>(?:[^<]+, )?\d\d:\d\d<\/time>/, 'the promised next update (with its date when that is another day)')
  t.notMatch(html, /href="\/new"/, 'a reader is not offered to open an incident')
  assertNoInlineCode(t, html)

  const staffPage = await app.inject({ url: '/', cookies: await signIn(app, tech) })
  t.match(staffPage.body, /<a class="button" href="\/new">New incident<\/a>/, 'staff are')
})

t.test('the incident list pages its resolved incidents; open ones are on every page', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const titles: string[] = []
  for (let i = 1; i <= RESOLVED_PER_PAGE + 2; i++) {
    const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: `Old outage number ${i}`, body: 'Over now.', status: 'resolved' })
    titles.unshift(thread.title)
  }
  await apiAs(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core switch failed.' })
  const shown = (html: string) => [...html.slice(html.indexOf('id="resolved-title"')).matchAll(/>(Old outage number \d+)</g)].map((m) => m[1])

  const first = (await app.inject({ url: '/' })).body
  t.same(shown(first), titles.slice(0, RESOLVED_PER_PAGE), `the latest ${RESOLVED_PER_PAGE} resolved incidents`)
  const older = /<p class="pager"><a href="(\/\?before=\d+-\d+)" rel="next">Older incidents<\/a><\/p>/.exec(first)?.[1]
  t.ok(older, 'a link to older incidents')

  const second = await app.inject({ url: older! })
  t.equal(second.statusCode, 200)
  t.same(shown(second.body), titles.slice(RESOLVED_PER_PAGE), 'the older ones')
  t.match(second.body.slice(second.body.indexOf('id="open-title"'), second.body.indexOf('id="resolved-title"')), /Campus network down/, 'the open incident is still on top')
  t.match(second.body, /<p class="pager"><a href="\/">Latest incidents<\/a> <\/p>/, 'a way back, and no older page')

  const french = await app.inject({ url: `${older!}&lang=fr` })
  t.match(french.body, /<a href="\/">Derniers incidents<\/a>/)
  t.notMatch(first, /Latest incidents/, 'the first page offers no way back to itself')
  t.match(second.body, new RegExp(`<a href="${older!.replace('?', '\\?')}&amp;lang=fr"[^>]*>Français</a>`), 'the language link keeps the page')
  t.same(shown((await app.inject({ url: '/' })).body), titles.slice(0, RESOLVED_PER_PAGE), 'the first page is as it was')
  t.same(shown((await app.inject({ url: '/?before=' })).body), titles.slice(0, RESOLVED_PER_PAGE), 'an empty cursor is the first page')
  const bad = await app.inject({ url: '/?before=999999' })
  t.equal(bad.statusCode, 400, 'a page that cannot exist')
  t.match(bad.body, /This page of incidents does not exist/)
})

t.test('an incident whose promise has passed shows as overdue in the list', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Storage array degraded', body: 'Looking.' })
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'More soon.', nextUpdateAt: inMinutes(10) })
  advance(15 * MINUTE)
  const html = (await app.inject({ url: '/' })).body
  t.match(html, /class="promise promise--overdue">Update overdue by 5 min</)
})

t.test('staff open an incident through the form', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')

  const anonymous = await app.inject({ url: '/new' })
  t.equal(anonymous.statusCode, 303, 'a reader is sent to sign in first')
  t.equal(anonymous.headers.location, '/login?next=/new')
  const refused = await app.inject({ url: '/new', cookies: await signIn(app, customer) })
  t.equal(refused.statusCode, 403, 'a customer may not open an incident')

  const cookies = await signIn(app, tech)
  const empty = await submitForm(app, cookies, '/new', '/new', { title: '  ', body: 'Something', status: 'investigating' })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /<label for="title">Title<\/label>\s*<p class="form-error" id="title-error" role="alert">The title must be 1 to 200 characters long\.<\/p>/, 'the error is shown beside the field it is about')
  t.match(empty.body, /<input id="title"[^>]*aria-describedby="title-error title-hint" aria-invalid="true" autofocus>/, 'which is marked and takes the focus')
  t.match(empty.body, />Something<\/textarea>/, 'what was typed is kept')
  const noBody = await submitForm(app, cookies, '/new', '/new', { title: 'Disk array', body: ' ', status: 'investigating' })
  t.equal(noBody.statusCode, 400)
  t.match(noBody.body, /<label for="body">First official update<\/label>\s*<p class="form-error" id="body-error" role="alert">Write something first\.<\/p>/, 'an empty first update is named as such')
  t.match(noBody.body, /<textarea id="body"[^>]*aria-invalid="true" autofocus>/)
  t.notMatch(noBody.body, /<input id="title"[^>]*aria-invalid/, 'the title, filled in, is not marked')
  t.match(noBody.body, /value="Disk array"/)
  const neither = await submitForm(app, cookies, '/new', '/new', { title: ' ', body: ' ', status: 'investigating' })
  t.equal(neither.statusCode, 400)
  t.match(neither.body, /id="title-error" role="alert">The title must be 1 to 200 characters long\.<\/p>/, 'both mistakes are said at once')
  t.match(neither.body, /id="body-error" role="alert">Write something first\.<\/p>/)
  t.match(neither.body, /<input id="title"[^>]*aria-invalid="true" autofocus>/, 'the first takes the focus')
  t.match(neither.body, /<textarea id="body"[^>]*aria-invalid="true">/, 'the second is marked, without the focus')
  t.equal(neither.body.match(/role="alert"/g)?.length, 2, 'and nothing is said twice')
  // "By a time of the clock" with no time: the time box is marked and takes the focus, the text kept.
  const noTime = await submitForm(app, cookies, '/new', '/new', { title: 'Disk array', body: 'Rebuilding.', status: 'investigating', next: 'at', nextAt: '' })
  t.equal(noTime.statusCode, 400)
  t.match(noTime.body, /id="next-error" role="alert">Give the time of the next update, e\.g\. 14:15\.<\/p>/)
  t.match(noTime.body, /<input type="time" name="nextAt"[^>]*aria-invalid="true" aria-describedby="next-error" autofocus>/, 'the time box is marked and takes the focus')
  t.notMatch(noTime.body, /<(input id="title"|textarea id="body")[^>]*aria-invalid/, 'the fields filled in are not')
  const both = await submitForm(app, cookies, '/new', '/new', { title: ' ', body: 'Rebuilding.', status: 'investigating', next: 'at', nextAt: '' })
  t.match(both.body, /<input id="title"[^>]*aria-invalid="true" autofocus>/, 'a title missing too takes the focus first')

  const created = await submitForm(app, cookies, '/new', '/new', { title: 'Power cut in building C', body: 'UPS on battery.', status: 'identified' })
  t.equal(created.statusCode, 303)
  t.match(String(created.headers.location), /^\/t\/\d+\/power-cut-in-building-c$/)
  const page = await app.inject({ url: String(created.headers.location) })
  t.match(page.body, /<h1 class="thread__title" dir="auto">Power cut in building C<\/h1>/)
  t.match(page.body, /<title>\u2068Power cut in building C\u2069 · Sitrep<\/title>/, 'the title set apart in the tab\'s title too')
  t.match(page.body, /class="status status--identified">Identified</)
  t.match(page.body, /UPS on battery\./)
  t.notMatch(page.body, /Next update by/, 'submitted without a choice of promise (an older form), it promises none')

  const form = (await app.inject({ url: '/new', cookies })).body
  t.match(form, /<input type="radio" name="next" value="30" checked> in 30 min/, 'the form promises the first update, in 30 min unless changed')
  const promising = await submitForm(app, cookies, '/new', '/new', { title: 'Mail relay down', body: 'Queues growing.', next: '15' })
  t.equal(promising.statusCode, 303)
  const thread = (await app.inject({ url: '/api/v1/threads' })).json().threads.find((th: Thread) => th.title === 'Mail relay down') as Thread
  t.ok(thread.nextUpdateAt !== null && Math.abs(Date.parse(thread.nextUpdateAt) - (Date.now() + 15 * MINUTE)) < MINUTE, 'a new incident promises its first update')
  t.match((await app.inject({ url: String(promising.headers.location) })).body, /Next update by/)
  const odd = await submitForm(app, cookies, '/new', '/new', { title: 'Odd', body: 'Text kept.', next: 'later' })
  t.equal(odd.statusCode, 400, 'a choice the form does not offer is refused')
  t.match(odd.body, />Text kept\.<\/textarea>/)
})

t.test('the thread page: current state on top, next update, then the posts', async (t) => {
  const { app, advance } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Tessa Night', shift: 'night' })
  const mod = await makeUser(app, 'moderator')
  const customer = await makeUser(app, 'customer', { name: 'Carl Client' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Fire in datacenter SBG2', body: 'Fire alarm at 03:42.' })
  const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, {
    body: 'Fire brigade on site. **Power cut** to SBG2.', status: 'identified', nextUpdateAt: inMinutes(30)
  })
  const comment = await apiAs<Post>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Is SBG3 affected?', replyTo: update.id })
  await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: update.id })
  const seq = (await apiAs<Thread>(app, tech, 'GET', `/threads/${thread.id}`)).lastSeq

  const res = await app.inject({ url: `/t/${thread.id}` })
  t.equal(res.statusCode, 200)
  const html = res.body
  t.match(html, new RegExp(`data-thread-id="${thread.id}" data-seq="${seq}"`), 'the page carries the sequence it was rendered at')
  const currentState = sectionById(html, 'current-state')
  t.match(currentState, /Current state/)
  t.match(currentState, /Fire brigade on site\. <strong>Power cut<\/strong> to SBG2\./, 'the pinned post is in the current-state box')
  t.ok(html.indexOf('id="current-state"') < html.indexOf('id="posts"'), 'above the posts')
  t.match(html, /Next update due by <time datetime="[^"]+" data-ref="[^"]+" title="[^"]+">(?:[^<]+, )?\d\d:\d\d<\/time> \(in 30 min\)/)

  const posts = sectionById(html, 'posts')
  t.match(posts, new RegExp(`<article class="post post--update[^"]*" id="p-${update.id}"[^>]*data-kind="update"`))
  t.match(posts, new RegExp(`id="p-${comment.id}"[^>]*data-kind="comment"`))
  t.match(posts, /Tessa Night<\/span>\s*<span class="badge badge--role badge--technician">Technician<\/span>\s*<span class="badge badge--shift badge--night">Night shift<\/span>/, 'author, role and shift')
  t.match(posts, new RegExp(`<a href="/posts/${update.id}">in reply to #${update.id}</a>`), 'the reply links to its parent')
  t.match(posts, /Status: <span class="status status--identified">Identified<\/span>/, 'the status the update set')
  t.match(posts, /<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z" title="[^"]+">\d{1,2} \w{3} \d{4}, \d\d:\d\d<\/time>/, 'times carry their ISO value and the full date')
  t.ok(posts.indexOf('Fire alarm at 03:42.') < posts.indexOf('Is SBG3 affected?'), 'posts in order')
  t.match(html, new RegExp(`<a class="button" href="/login\\?next=%2Ft%2F${thread.id}%2F[a-z0-9-]+">Sign in to comment</a>`), 'a reader is invited to sign in, and back to the thread')
  t.notMatch(html, /name="body"/, 'and has no form')
  assertNoInlineCode(t, html)

  t.equal((await app.inject({ url: `/t/${thread.id}/any-old-slug` })).statusCode, 200, 'any slug leads to the thread')

  advance(35 * MINUTE)
  const late = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(late, /class="next-update next-update--overdue"[^>]*>Update overdue by 5 min/, 'the missed promise shows, visibly')
})

t.test('the official-only view keeps updates and handovers, not comments', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'VPN unreachable', body: 'Investigating the VPN.' })
  await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Mine fails too.' })
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Evening shift takes over.', kind: 'handover' })

  const all = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(all, /Mine fails too\./)
  t.match(all, /<a href="\/t\/\d+\/vpn-unreachable" aria-current="page">Everything<\/a>/)
  const official = (await app.inject({ url: `/t/${thread.id}?view=official` })).body
  t.notMatch(official, /Mine fails too\./, 'no comment')
  t.match(official, /Investigating the VPN\./)
  t.match(official, /Evening shift takes over\./)
  t.match(official, /aria-current="page">Official updates only<\/a>/)
})

t.test('posts cannot smuggle scripts into the page', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer', { name: '<img src=x onerror=alert(2)>' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: '<script>alert(3)</script> outage', body: 'ok' })
  await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, {
    body: '<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n<a href="javascript:alert(1)">y</a>'
  })
  for (const url of [`/t/${thread.id}`, '/', `/t/${thread.id}/timeline`]) {
    const html = (await app.inject({ url, cookies: await signIn(app, customer) })).body
    assertNoInlineCode(t, html)
    t.notMatch(html, /<img\b/i, `no <img> element in ${url}`)
    t.notMatch(html, /<[^>]+href\s*=\s*["']?\s*javascript:/i, `no javascript: link in ${url}`)
  }
  const html = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'the text shows as text')
  t.match(html, /&lt;script&gt;alert\(3\)&lt;\/script&gt; outage/, 'so does the title')
})

t.test('the timeline lists the official updates alone, oldest first', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Dana Day' })
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Backbone fibre cut', body: 'Fibre cut near Lille.' })
  await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'When will it be back?' })
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Splicing team on site.', status: 'identified' })
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/handover`, { done: 'Night shift takes over.', pending: 'Splice 12 of 48.' })

  const res = await app.inject({ url: `/t/${thread.id}/timeline` })
  t.equal(res.statusCode, 200)
  const html = res.body
  t.notMatch(html, /When will it be back\?/, 'no comment')
  const order = ['Fibre cut near Lille.', 'Splicing team on site.', 'Night shift takes over.'].map((text) => html.indexOf(text))
  t.ok(order.every((index) => index > 0), 'every update')
  t.same([...order].sort((a, b) => a - b), order, 'in order')
  t.match(html, /Dana Day/)
  t.match(html, /Day shift/)
  t.match(html, /Status: <span class="status status--identified">Identified<\/span>/)
  t.match(html, /Shift handover/)
  // Headings in order, for screen readers' lists of them: a handover's sections (h3) under an h2 of the page's.
  const headings = [...html.matchAll(/<h(\d)[\s>]/g)].map((match) => Number(match[1]))
  t.ok(headings.every((level, i) => i === 0 || level <= headings[i - 1]! + 1), `no heading level skipped (${headings.join(', ')})`)
  assertNoInlineCode(t, html)
})

t.test('French pages are in French, with French dates', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Élise Martin' })
  const mod = await makeUser(app, 'moderator', { name: 'Marc Dubois' })
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Panne électrique', body: 'Onduleurs sur batterie.' })
  const update = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Groupe électrogène démarré.', nextUpdateAt: inMinutes(30) })
  await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: update.id })

  const frenchDate = /\d{1,2} (janv\.|févr\.|mars|avr\.|mai|juin|juil\.|août|sept\.|oct\.|nov\.|déc\.) \d{4}, \d\d:\d\d/
  const english = [
    'Investigating', 'Current state', 'Sign in', 'Official update', 'Next update', 'Everything', 'Official updates only',
    'Technician', 'Day shift', 'Last activity', 'Create an account', 'Skip to the content', 'Timeline', 'On duty', 'Posts'
  ]
  const headers = { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5' }
  for (const url of ['/', `/t/${thread.id}`, `/t/${thread.id}/timeline`]) {
    const html = (await app.inject({ url, headers })).body
    t.match(html, /<html lang="fr">/, `${url} says it is French`)
    t.match(html, /En cours d’analyse/, 'a French status')
    t.match(html, frenchDate, 'a French date')
    for (const text of english) t.notMatch(html, new RegExp(`>[^<]*\\b${text}\\b`), `no "${text}" in ${url}`)
  }
  const thread_ = (await app.inject({ url: `/t/${thread.id}`, headers })).body
  t.match(thread_, /Situation actuelle/)
  t.match(thread_, /Prochain point prévu\u00a0: <time[^>]+>(?:[^<]+, )?\d\d:\d\d<\/time> \(dans 30\u00a0min\)/)
  t.match(thread_, /Technicien/)
  t.match(thread_, /Équipe de jour/)
  t.match(thread_, /Connectez-vous pour commenter/)

  const chosen = await app.inject({ url: '/?lang=fr' })
  t.match(chosen.body, /<html lang="fr">/, '?lang= picks the language')
  const cookie = chosen.cookies.find((c) => c.name === 'sitrep_lang')
  t.equal(cookie?.value, 'fr', 'and remembers it')
  t.ok((cookie?.maxAge ?? 0) > 30 * 24 * 3600, 'for a long time')
  t.match((await app.inject({ url: '/', cookies: { sitrep_lang: 'fr' } })).body, /<html lang="fr">/)
  const switcher = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(switcher, new RegExp(`href="/t/${thread.id}/panne-electrique\\?lang=fr" lang="fr" hreflang="fr">Français</a>`), 'the switch keeps the page')
  const stretch = (await app.inject({ url: `/t/${thread.id}?before=999999&replyTo=1` })).body
  t.match(stretch, new RegExp(`href="/t/${thread.id}/panne-electrique\\?before=999999&amp;replyTo=1&amp;lang=fr" lang="fr" hreflang="fr">`), 'and the stretch of the thread shown, and the comment replied to')
  t.match(stretch, new RegExp(`href="/login\\?next=${encodeURIComponent(`/t/${thread.id}/panne-electrique?before=999999&replyTo=1`)}"`), 'so does signing in to comment')
})

t.test('errors show the styled error page in the reader\'s language', async (t) => {
  const { app } = await buildTestApp(t)
  const missing = await app.inject({ url: '/t/999' })
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /<section class="error-page">/)
  t.match(missing.body, /<h1>Not found<\/h1>/, 'headed with what happened, not "Something went wrong"')
  t.match(missing.body, /There is no such incident: the address may be mistyped\./, 'it says what is missing')
  t.equal((await app.inject({ url: '/t/not-a-number' })).statusCode, 404)
  const french = await app.inject({ url: '/t/999', headers: { 'accept-language': 'fr' } })
  t.match(french.body, /Cet incident n’existe pas\u00a0: l’adresse est peut-être mal saisie\./)
  t.match(french.body, /<h1>Introuvable<\/h1>/)
  t.match((await app.inject({ url: '/nowhere', headers: { 'accept-language': 'fr' } })).body, /Il n’y a rien ici\./)
  t.match(missing.body, /<a class="button" href="\/">Back to the incidents<\/a>/, 'a way back to the incidents')
  const anonymousPost = await app.inject({ method: 'POST', url: '/t/1/posts', payload: { body: 'x' } })
  t.equal(anonymousPost.statusCode, 403, 'no CSRF token, no post')
  t.match(anonymousPost.body, /This form has expired\./)
  t.match(anonymousPost.body, /<h1>Something went wrong<\/h1>/)
  t.match(anonymousPost.body, /<a class="button" href="\/t\/1">Back to the incident<\/a>/, 'a refused form leads back to its incident')
  const frenchPost = await app.inject({ method: 'POST', url: '/t/1/posts?view=official', headers: { 'accept-language': 'fr' }, payload: { body: 'x' } })
  t.match(frenchPost.body, /<a class="button" href="\/t\/1">Retour à l’incident<\/a>/)
})

t.test("every page says which time zone its times are in, the organisation's", async (t) => {
  const utc = await buildTestApp(t)
  t.match((await utc.app.inject({ url: '/' })).body, /<p class="site-footer__zone" id="time-zone" data-local="Times are shown in your device’s time zone \(\{zone\}\)\.">Times are shown in UTC\.<\/p>/)
  const paris = await buildTestApp(t, { env: { TZ_DISPLAY: 'Europe/Paris' } })
  t.match((await paris.app.inject({ url: '/' })).body, /Times are shown in Central European Time \(Europe\/Paris\)\./)
  t.match((await paris.app.inject({ url: '/?lang=fr' })).body, /Les heures sont données en heure d’Europe centrale \(Europe\/Paris\)\./)
})

t.test('a form sent to an incident that does not exist leads back to the incidents, not to it', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Lift out of order', body: 'Lift B stuck.' })
  const missing = await submitForm(app, await signIn(app, customer), `/t/${thread.id}`, '/t/999999/posts', { body: 'Anyone there?' })
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /There is no such incident/)
  t.match(missing.body, /<a class="button" href="\/">Back to the incidents<\/a>/)
  t.notMatch(missing.body, /href="\/t\/999999"/, 'no way back to what is not there')
  t.match(missing.body, /Anyone there\?/, 'and what was written is there to copy')
})

t.test('every page links its Atom feeds in the head', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Feeds & co', body: 'x' })
  t.match((await app.inject({ url: '/' })).body, /<link rel="alternate" type="application\/atom\+xml" href="\/feed.atom\?lang=en"/)
  const page = (await app.inject({ url: `/t/${thread.id}` })).body
  t.ok(page.includes(`<link rel="alternate" type="application/atom+xml" href="/t/${thread.id}/feed.atom?lang=en" title="${escaped('\u2068Feeds & co\u2069 (official updates)')}">`), 'the thread\'s own feed too')

  // A feed reader sends neither the page's cookie nor its reader's languages: the links name the page's.
  const french = (await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })).body
  const links = [...french.matchAll(/href="([^"]*feed\.atom[^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'))
  t.same([...new Set(links)].sort(), ['/feed.atom?lang=fr', `/t/${thread.id}/feed.atom?lang=fr`], 'a French page links French feeds')
  for (const link of links) {
    const feed = await app.inject({ url: link })
    t.match(feed.body, /<feed xmlns="http:\/\/www.w3.org\/2005\/Atom" xml:lang="fr">/, `${link} is in French, asked for with no cookie nor Accept-Language`)
    t.notOk(feed.headers['set-cookie'], 'and it chooses nothing for the browser')
  }
})

t.test('a long thread leads straight to its latest posts, and a customer to the comment box; each Reply says to which post', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician', { name: 'Nora Night' })
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'All buildings.' })
  const links = (html: string) => sectionById(html.replace('<nav class="thread__links"', '<nav id="links" class="thread__links"'), 'links')

  const anonymous = (await app.inject({ url: `/t/${thread.id}` })).body
  t.match(links(anonymous), /<a href="#latest">Latest posts<\/a>/, 'anyone is offered the latest posts')
  const latest = anonymous.indexOf('<span id="latest"></span>')
  t.ok(latest > anonymous.lastIndexOf('<article') && latest < anonymous.indexOf('id="new-posts"'), 'which is where the posts end, after the last one')
  t.notMatch(links(anonymous), /#compose/, 'an anonymous reader is offered no comment box to go to')

  const cookies = await signIn(app, customer)
  const signedIn = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(links(signedIn), /<a class="button button--small" href="#compose">Write a comment<\/a>/, 'a customer is led to the comment box')
  t.match(signedIn, /aria-label="Reply to #\d+, by \u2068Nora Night\u2069">Reply<\/a>/, 'a Reply link says to which post, for a screen reader')
  const french = (await app.inject({ url: `/t/${thread.id}`, cookies: { ...cookies, sitrep_lang: 'fr' } })).body
  t.match(links(french), /href="#compose">Écrire un commentaire<\/a>/)
  t.match(french, /aria-label="Répondre au message n°\u00a0\d+, de \u2068Nora Night\u2069">Répondre<\/a>/)

  const stretch = (await app.inject({ url: `/t/${thread.id}?after=0` })).body
  t.notMatch(links(stretch), /href="#latest"/, 'a stretch of the thread, which may not end with the latest, does not offer its own end as the latest')
  t.match(stretch, new RegExp(`<a href="/t/${thread.id}[^"]*">Latest posts</a></p>`), 'its pager leads to the latest instead')
})

t.test('the sign-up form says how long a password must be, before it is refused', async (t) => {
  const { app } = await buildTestApp(t)
  const english = (await app.inject({ url: '/register' })).body
  t.match(english, /<p class="hint" id="register-password-hint">At least 8 characters\./)
  t.match(english, /name="password"[^>]*minlength="8"[^>]*aria-describedby="register-password-hint"/)
  t.match((await app.inject({ url: '/register', headers: { 'accept-language': 'fr' } })).body, /Au moins 8 caractères\./)
})
