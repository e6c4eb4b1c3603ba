import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { type TestUser, buildTestApp, makeUser } from '../helpers/app.ts'
import { type LiveClient, listen, openLive } from '../helpers/live.ts'
import { signIn, submitForm } from '../helpers/pages.ts'

async function setUp (t: Test) {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const moderator = await makeUser(app, 'moderator')
  const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Outage', body: 'Looking into it.' } })).json()
  const host = await listen(app)
  const post = (who: { auth: Record<string, string> }, body: string) =>
    app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: who.auth, payload: { body } })
  return { app, tech, customer, moderator, thread, host, post }
}

t.test('a reader with since gets every event before and after connecting, in order, once', async (t) => {
  const { app, tech, customer, thread, host, post } = await setUp(t)
  for (let i = 0; i < 5; i++) await post(customer, `before ${i}`)
  const client = openLive(host, thread.id, { since: 0 })
  await client.opened
  // Writes race with the replay: nothing may be lost or doubled at the seam.
  await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 === 0 ? tech : customer, `during ${i}`)))
  const { last_seq: lastSeq } = await app.db.selectFrom('threads').select('last_seq').where('id', '=', thread.id).executeTakeFirstOrThrow()
  await client.waitForCount(lastSeq)
  const log = await app.db.selectFrom('thread_events').select(['seq', 'type']).where('thread_id', '=', thread.id).orderBy('seq').execute()
  t.same(client.events.map((e) => [e.seq, e.type]), log.map((e) => [e.seq, e.type]), 'the socket saw exactly the committed log')
  client.ws.close()
})

t.test('without since, a reader starts at the moment of connection', async (t) => {
  const { customer, thread, host, post } = await setUp(t)
  await post(customer, 'old news')
  const client = openLive(host, thread.id)
  await client.opened
  await new Promise((resolve) => setTimeout(resolve, 100))
  await post(customer, 'fresh news')
  await client.waitForCount(1)
  t.equal(client.events[0]!.post!.body, 'fresh news')
  t.equal(client.events.length, 1)
  client.ws.close()
})

t.test('a hidden post never reaches readers with its text, live or replayed', async (t) => {
  const { app, customer, moderator, thread, host, post } = await setUp(t)
  const live = openLive(host, thread.id)
  await live.opened
  await new Promise((resolve) => setTimeout(resolve, 100))
  const rumour = (await post(customer, 'the CEO set the fire')).json()
  await app.inject({ method: 'POST', url: `/api/v1/posts/${rumour.id}/hide`, headers: moderator.auth, payload: { reason: 'rumour' } })
  await live.waitForCount(2)
  t.equal(live.events[1]!.type, 'post.hidden')
  t.notOk('body' in live.events[1]!.post!, 'the hide event carries no text')

  const replay = openLive(host, thread.id, { since: 0 })
  await replay.waitForCount(3)
  const created = replay.events.find((e) => e.type === 'post.created' && e.post!.id === rumour.id)!
  t.equal(created.post!.hidden, true)
  t.notOk('body' in created.post!, 'the replayed creation of a hidden post has no text')
  live.ws.close()
  replay.ws.close()
})

t.test('refusals: unknown thread, foreign Origin, oversized frame', async (t) => {
  const { app, thread, host } = await setUp(t)
  await t.rejects(openLive(host, 999999).opened, /404/)
  await t.rejects(openLive(host, thread.id, { headers: { origin: 'https://evil.example' } }).opened, /403/)
  for (const [language, said] of [['en', /^This page may not open a live stream here\.$/], ['fr', /^Cette page ne peut pas ouvrir de flux en direct ici\.$/]] as const) {
    const foreign = await app.inject({ url: `/api/v1/threads/${thread.id}/live`, headers: { origin: 'https://evil.example', 'accept-language': language } })
    t.equal(foreign.statusCode, 403)
    t.equal(foreign.json().error.code, 'foreign_origin')
    t.match(foreign.json().error.message, said, `the refusal is said in the caller's language (${language})`)
  }
  const client = openLive(host, thread.id, { headers: { origin: `http://${host}` } })
  await client.opened
  client.ws.send('x'.repeat(10_000))
  const { code } = await client.closed
  t.equal(code, 1009, 'a frame over the bound closes the socket as too big')
})


t.test("the page's script gets each post as the page's own markup, in its language", async (t) => {
  const { app, tech, moderator, thread, host } = await setUp(t)
  const client = openLive(host, thread.id, { lang: 'fr' })
  await client.opened
  await new Promise((resolve) => setTimeout(resolve, 100))
  const update = (await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: tech.auth, payload: { body: 'Le **courant** est revenu.', status: 'monitoring' } })).json()
  await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: update.id } })
  await client.waitForCount(3)
  const [created, statusChange, pin] = client.events as unknown as Record<string, string>[]
  t.match(created!.view, `id="p-${update.id}"`)
  t.match(created!.view, '<strong>courant</strong>')
  t.match(created!.view, 'Technicien', 'the role badge in French')
  t.match(statusChange!.stateView, 'Sous surveillance', 'the new status, in French')
  t.notOk('pinnedView' in statusChange!, 'a status change leaves the pinned state alone')
  t.match(pin!.pinnedView, 'courant', 'the pinned state now shows the update')

  const plain = openLive(host, thread.id, { since: 0 })
  await plain.waitForCount(4)
  t.notOk('view' in plain.events[1]!, 'API clients get the plain contract frames')
  client.ws.close()
  plain.ws.close()
})

t.test("a signed-in page's socket gets posts with what its reader's role may do; a change to the account closes it", async (t) => {
  const { app, customer, moderator, thread, host, post } = await setUp(t)
  const admin = await makeUser(app, 'admin')
  const sessionOf = async (user: TestUser) => ({ cookie: Object.entries(await signIn(app, user)).map(([name, value]) => `${name}=${value}`).join('; ') })
  // From the thread's seq of now, as a page does: nothing posted after is missed, however long joining takes.
  const since = thread.lastSeq as number
  const asModerator = openLive(host, thread.id, { since, lang: 'en', headers: await sessionOf(moderator) })
  const asCustomer = openLive(host, thread.id, { since, lang: 'en', headers: await sessionOf(customer) })
  const anonymous = openLive(host, thread.id, { since, lang: 'en' })
  await Promise.all([asModerator.opened, asCustomer.opened, anonymous.opened])

  const comment = (await post(customer, 'Is the **VPN** down too?')).json()
  await app.inject({ method: 'POST', url: `/api/v1/posts/${comment.id}/hide`, headers: moderator.auth, payload: { reason: 'duplicate' } })
  for (const client of [asModerator, asCustomer, anonymous]) await client.waitForCount(2)
  const views = (client: LiveClient) => client.events.map((event) => (event as unknown as { view: string }).view)
  const [modCreated, modHidden] = views(asModerator)
  t.match(modCreated, 'action="/posts/' + comment.id + '/hide"', 'a moderator gets the form to hide a new comment')
  t.match(modCreated, 'name="_csrf"', 'with a place for the page\'s token')
  t.match(modHidden, '<strong>VPN</strong>', 'and still sees the text of a hidden one')
  t.match(modHidden, 'action="/posts/' + comment.id + '/restore"', 'with the form to restore it')
  const [customerCreated, customerHidden] = views(asCustomer)
  t.match(customerCreated, '?replyTo=' + comment.id, 'a customer gets the reply link')
  t.notMatch(customerCreated, '/hide"', 'but no moderator form')
  t.notMatch(customerHidden, 'VPN', 'and no hidden text')
  const [anonymousCreated, anonymousHidden] = views(anonymous)
  t.notMatch(anonymousCreated, 'post__actions', 'an anonymous reader gets no actions')
  t.notMatch(anonymousHidden, 'VPN')
  t.notOk((anonymous.events[1]! as { post?: { body?: string } }).post!.body, 'no frame carries the hidden text to a reader')

  // The moderator is made a customer: their open socket is closed, and reconnects as what they are now.
  await app.inject({ method: 'PATCH', url: `/api/v1/users/${moderator.actor.id}`, headers: admin.auth, payload: { role: 'customer' } })
  t.equal((await asModerator.closed).code, 4001, 'the demoted moderator\'s socket is closed at once')
  t.equal(asCustomer.ws.readyState, WebSocket.OPEN, 'other readers\' sockets stay open')
  asCustomer.ws.close()
  anonymous.ws.close()
})

t.test('a post edited since is replayed with its text of now: the earlier text is for moderators only', async (t) => {
  const { app, tech, thread, host, post } = await setUp(t)
  const slip = (await post(tech, 'Jump host is 10.20.30.40, password hunter2.')).json()
  const edited = await app.inject({ method: 'PATCH', url: `/api/v1/posts/${slip.id}`, headers: tech.auth, payload: { body: 'Jump host restored.' } })
  t.equal(edited.statusCode, 200)
  for (const lang of [undefined, 'en']) {
    const client = openLive(host, thread.id, { since: 0, ...(lang !== undefined && { lang }) })
    await client.waitForCount(3)
    const frames = JSON.stringify(client.events)
    t.notMatch(frames, 'hunter2', `replayed${lang === undefined ? '' : ' with markup'}: no frame carries the earlier text`)
    const created = client.events.find((event) => event.type === 'post.created' && event.post?.id === slip.id)!
    t.equal(created.post!.body, 'Jump host restored.', 'the post is replayed as it reads now')
    client.ws.close()
  }
  const history = await app.inject({ url: `/api/v1/posts/${slip.id}/revisions`, headers: tech.auth })
  t.equal(history.statusCode, 403, 'the earlier text stays in the history, for moderators')
})

t.test('a post replayed after its author changed their name carries the name of now, as the pages do', async (t) => {
  const { app, customer, thread, host, post } = await setUp(t)
  const question = (await post(customer, 'Is webmail down too?')).json()
  const renamed = await submitForm(app, await signIn(app, customer), '/account', '/account/name', { name: 'Ana (Finance)' })
  t.equal(renamed.statusCode, 303)
  for (const lang of [undefined, 'en']) {
    const client = openLive(host, thread.id, { since: 0, ...(lang !== undefined && { lang }) })
    await client.waitForCount(2)
    const created = client.events.find((event) => event.type === 'post.created' && event.post?.id === question.id) as unknown as { post: { author: { name: string } }, view?: string }
    t.equal(created.post.author.name, 'Ana (Finance)', `replayed${lang === undefined ? '' : ' with markup'}: the name of now`)
    if (lang !== undefined) t.match(created.view, /Ana \(Finance\)/, 'in its markup too')
    client.ws.close()
  }
})

t.test('a socket that stops answering pings is closed; one that answers stays', async (t) => {
  const { app } = await buildTestApp(t, { live: { pingEveryMs: 100 } })
  const tech = await makeUser(app, 'technician')
  const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Pings', body: 'Start.' } })).json()
  const host = await listen(app)
  const silent = new WebSocket(`ws://${host}/api/v1/threads/${thread.id}/live`, { autoPong: false })
  const answering = openLive(host, thread.id)
  await answering.opened
  const closedAt = await new Promise<number>((resolve) => silent.once('close', () => resolve(Date.now())))
  t.ok(closedAt > 0, 'the silent socket was closed by the server')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(answering.ws.readyState, WebSocket.OPEN, 'the answering one is still open')
  answering.ws.close()
})

t.test('one address may open only so many live sockets', async (t) => {
  const { app } = await buildTestApp(t, { env: { LIVE_SOCKETS_PER_IP: '2' } })
  const tech = await makeUser(app, 'technician')
  const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Cap', body: 'Start.' } })).json()
  const host = await listen(app)
  const first = openLive(host, thread.id)
  const second = openLive(host, thread.id)
  await Promise.all([first.opened, second.opened])
  await t.rejects(openLive(host, thread.id).opened, /429/)
  const refused = await app.inject({ url: `/api/v1/threads/${thread.id}/live`, headers: { 'accept-language': 'fr' } })
  t.equal(refused.statusCode, 429)
  t.equal(refused.headers['retry-after'], '30', 'with when to try again')
  t.same(refused.json().error, { code: 'too_many_sockets', message: 'Trop de connexions en direct depuis cette adresse. Fermez quelques onglets et rechargez la page.' }, 'said in French to a French reader')
  first.ws.close()
  await first.closed
  const again = openLive(host, thread.id)
  await again.opened
  t.equal(again.ws.readyState, WebSocket.OPEN, 'a closed socket frees its place')
  second.ws.close()
  again.ws.close()
})

t.test('sockets opened all at once from one address get no more places than one at a time', async (t) => {
  const { app } = await buildTestApp(t, { env: { LIVE_SOCKETS_PER_IP: '5' } })
  const tech = await makeUser(app, 'technician')
  const thread = (await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Cap', body: 'Start.' } })).json()
  const host = await listen(app)
  const refusedSince = openLive(host, thread.id, { since: 999 })
  await t.rejects(refusedSince.opened, /400/)
  const clients = Array.from({ length: 40 }, () => openLive(host, thread.id))
  const outcomes = await Promise.allSettled(clients.map((client) => client.opened))
  const open = outcomes.filter((outcome) => outcome.status === 'fulfilled').length
  t.equal(open, 5, 'five open')
  t.ok(outcomes.every((outcome) => outcome.status === 'fulfilled' || /429/.test(String(outcome.reason))), 'the others refused 429')
  await Promise.all(clients.filter((client) => client.ws.readyState === WebSocket.OPEN).map((client) => {
    client.ws.close()
    return client.closed
  }))
  const later = Array.from({ length: 5 }, () => openLive(host, thread.id))
  const reopened = await Promise.allSettled(later.map((client) => client.opened))
  t.equal(reopened.filter((outcome) => outcome.status === 'fulfilled').length, 5, 'once closed, and after a refusal, all five places are free again')
  await t.rejects(openLive(host, thread.id).opened, /429/, 'and no more than five')
  for (const client of later) client.ws.close()
})

t.test('a since the thread has not reached is refused at once, not left waiting for ever', async (t) => {
  const { app, thread, host } = await setUp(t)
  const { last_seq: lastSeq } = await app.db.selectFrom('threads').select('last_seq').where('id', '=', thread.id).executeTakeFirstOrThrow()
  await t.rejects(openLive(host, thread.id, { since: lastSeq + 1 }).opened, /400/)
  const answer = await app.inject({ url: `/api/v1/threads/${thread.id}/live?since=${lastSeq + 1}` })
  t.equal(answer.json().error.code, 'since_ahead', 'the contract\'s error, naming why')
  const atEnd = openLive(host, thread.id, { since: lastSeq })
  await atEnd.opened
  atEnd.ws.close()
})
