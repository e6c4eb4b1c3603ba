import t from 'tap'
import type { ThreadEvent } from '../../src/live/events.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, eventLog, inFuture, openThread, readPosts, writePost } from '../helpers/api.ts'
import { sectionById, signIn } from '../helpers/pages.ts'

const published: ThreadEvent[] = []
const { app, advance } = await buildTestApp(t, { onEvents: (events) => published.push(...events) })
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const customer = await makeUser(app, 'customer')

t.test('pin history lists earlier pins, newest first', async (t) => {
  const thread = await openThread(app, tech)
  const first = await writePost(app, tech, thread.id, { body: 'State one: fire out.' })
  const second = await writePost(app, tech, thread.id, { body: 'State two: power back.' })
  await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: first.id })
  advance(60_000)
  await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: second.id })
  const pins = (await app.inject({ url: `/api/v1/threads/${thread.id}/pins` })).json().pins
  t.same(pins.map((p: { post: { id: number } }) => p.post.id), [second.id, first.id])
  t.equal(pins[0].unpinnedAt, null, 'the current one is open')
  t.type(pins[1].unpinnedAt, 'string', 'the earlier one is closed')
  t.equal(pins[1].pinnedBy.name, moderator.actor.name)

  const page = await app.inject({ url: `/t/${thread.id}` })
  const history = sectionById(page.body, 'pin-history')
  t.match(history, /<details/, 'earlier states are collapsed')
  t.match(history, /State one: fire out/)
  t.notMatch(history, /State two/, 'the current state is not in the history')
  t.match((await app.inject({ url: `/t/${thread.id}?lang=fr` })).body, /Situations précédentes/)

  await act(app, moderator, 'DELETE', `/api/v1/threads/${thread.id}/pin`)
  const after = (await app.inject({ url: `/api/v1/threads/${thread.id}/pins` })).json().pins
  t.ok(after.every((p: { unpinnedAt: string | null }) => p.unpinnedAt !== null), 'unpinning closes the current pin')
  const rows = await app.db.selectFrom('audit_log').select(['action', 'before', 'after']).where('thread_id', '=', thread.id).orderBy('id').execute()
  t.same(rows.map((r) => r.action), ['thread.pin', 'thread.pin', 'thread.unpin'])
  t.same(rows[1]!.before, { pinnedPostId: first.id })
  t.same(rows[1]!.after, { pinnedPostId: second.id })
})

t.test('hiding the pinned state unpins it, and the audit log says so', async (t) => {
  const thread = await openThread(app, tech)
  const state = await writePost(app, tech, thread.id, { body: 'State: posted in the wrong incident.' })
  const other = await writePost(app, tech, thread.id, { body: 'Another update, not pinned.' })
  await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: state.id })
  await act(app, moderator, 'POST', `/api/v1/posts/${state.id}/hide`, { reason: 'Wrong incident' })
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().pinnedPostId, null, 'nothing is pinned')
  await act(app, moderator, 'POST', `/api/v1/posts/${other.id}/hide`, { reason: 'Duplicate' })
  const hides = await app.db.selectFrom('audit_log').select(['post_id', 'before', 'after']).where('thread_id', '=', thread.id).where('action', '=', 'post.hide').orderBy('id').execute()
  t.same(hides.map((row) => [row.post_id, row.before, row.after]), [
    [state.id, { hidden: false, pinnedPostId: state.id }, { hidden: true, pinnedPostId: null }],
    [other.id, { hidden: false }, { hidden: true }]
  ], 'the pinned one\'s hide records its unpinning; the other\'s records its hide alone')

  const page = await app.inject({ url: `/mod/audit?threadId=${thread.id}&lang=en`, cookies: await signIn(app, moderator) })
  const row = /<tr data-action="post\.hide">[\s\S]*?<\/tr>/g
  const rows = page.body.match(row) ?? []
  t.equal(rows.length, 2, 'both hides are on the audit page')
  t.equal(rows.filter((html) => html.includes('Pinned')).length, 1, 'one of them says what was pinned')
})

t.test('pinning the post already pinned (a double click, two moderators at once) records nothing twice', async (t) => {
  const thread = await openThread(app, tech)
  const state = await writePost(app, tech, thread.id, { body: 'State: power back on feed B.' })
  const start = (await eventLog(app, thread.id)).length
  for (let i = 0; i < 2; i++) await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: state.id })
  const pins = (await app.inject({ url: `/api/v1/threads/${thread.id}/pins` })).json().pins
  t.equal(pins.length, 1, 'one pinned state, no earlier copy of itself')
  t.equal((await eventLog(app, thread.id, start)).length, 1, 'one event')
  const audit = await app.db.selectFrom('audit_log').select('action').where('thread_id', '=', thread.id).where('action', '=', 'thread.pin').execute()
  t.equal(audit.length, 1, 'one audit row')
})

t.test('a summary is written and pinned at once', async (t) => {
  const thread = await openThread(app, tech)
  const start = (await eventLog(app, thread.id)).length
  published.length = 0
  const res = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/summary`, headers: moderator.auth, payload: { body: 'Where we stand: all fine.' } })
  assertStatus(t, res, 201)
  const post = res.json()
  t.equal(post.kind, 'update')
  t.equal(post.author.id, moderator.actor.id)
  const thread2 = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json()
  t.equal(thread2.pinnedPostId, post.id)
  const log = await eventLog(app, thread.id, start)
  t.same(log.map((e) => e.type), ['post.created', 'thread.updated'])
  t.equal(log[1]!.payload.pinnedPost.id, post.id)
  t.same(published.filter((e) => e.threadId === thread.id).map((e) => e.type), ['post.created', 'thread.updated'], 'pushed live')
  const audit = await app.db.selectFrom('audit_log').selectAll().where('thread_id', '=', thread.id).executeTakeFirstOrThrow()
  t.same([audit.action, audit.before, audit.after], ['thread.pin', { pinnedPostId: null }, { pinnedPostId: post.id }])
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/summary`, headers: moderator.auth, payload: { body: ' ' } }), 400, 'empty_body')

  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: `/t/${thread.id}`, cookies })
  const csrf = /action="\/t\/\d+\/summary"[\s\S]*?name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  const form = await app.inject({ method: 'POST', url: `/t/${thread.id}/summary`, cookies, payload: { _csrf: csrf, body: 'Second summary' } })
  t.equal(form.statusCode, 303)
  const after = await app.inject({ url: `/t/${thread.id}` })
  t.match(sectionById(after.body, 'current-state'), /Second summary/)
  t.match(sectionById(after.body, 'pin-history'), /Where we stand/)

  const empty = await app.inject({ method: 'POST', url: `/t/${thread.id}/summary`, cookies, payload: { _csrf: csrf, body: ' ' } })
  t.equal(empty.statusCode, 400)
  t.match(sectionById(empty.body, 'mod-tools'), /<details open>[\s\S]*<p class="form-error" role="alert">Write something first\.<\/p>/, 'an empty summary is refused in the moderator tools, opened')
})

t.test('a summary keeps the promised next update, posts once when sent twice, and a refused one keeps its text', async (t) => {
  const thread = await openThread(app, tech)
  const promised = new Date(Date.now() + 45 * 60_000).toISOString()
  await writePost(app, tech, thread.id, { body: 'Replacing the PDU.', nextUpdateAt: promised })
  const summary = { method: 'POST' as const, url: `/api/v1/threads/${thread.id}/summary`, headers: { ...moderator.auth, 'idempotency-key': 'summary-1' }, payload: { body: 'Where we stand: PDU swap under way.' } }
  const first = await app.inject(summary)
  assertStatus(t, first, 201)
  const again = await app.inject(summary)
  assertStatus(t, again, 201)
  t.equal(again.json().id, first.json().id, 'the same summary sent again with its Idempotency-Key is not posted twice')
  const readers = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json()
  t.equal(readers.nextUpdateAt, promised, "the technician's promise still stands for readers")
  t.equal(readers.pinnedPostId, first.json().id)
  t.equal((await readPosts(app, thread.id)).filter((post) => post.body === 'Where we stand: PDU swap under way.').length, 1, 'one post')

  // Through the form: a double click posts once; a summary too long comes back as typed.
  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: `/t/${thread.id}`, cookies })
  const form = /action="\/t\/\d+\/summary"[\s\S]*?name="_csrf" value="([^"]+)"[\s\S]*?name="idempotencyKey" value="([^"]+)"/.exec(page.body)!
  const send = (body: string) => app.inject({ method: 'POST', url: `/t/${thread.id}/summary`, cookies, payload: { _csrf: form[1]!, idempotencyKey: form[2]!, body } })
  t.equal((await send('Summary from the form.')).statusCode, 303)
  t.equal((await send('Summary from the form.')).statusCode, 303)
  t.equal((await readPosts(app, thread.id)).filter((post) => post.body === 'Summary from the form.').length, 1, 'a double click posts once')
  const tooLong = 'PDU status. '.repeat(2_000)
  const refused = await app.inject({ method: 'POST', url: `/t/${thread.id}/summary`, cookies, payload: { _csrf: form[1]!, body: tooLong } })
  t.equal(refused.statusCode, 400)
  t.match(sectionById(refused.body, 'summary-body'), tooLong.slice(0, 200), 'the refused summary is back in its form')
  t.match(sectionById(refused.body, 'mod-tools'), /<details open>/, 'shown open, not folded away')
})

t.test('a question links to the update that answers it', async (t) => {
  const thread = await openThread(app, tech)
  const question = await writePost(app, customer, thread.id, { body: 'When is mail back?' })
  const update = await writePost(app, tech, thread.id, { body: 'Mail is back.' })
  t.equal(question.answeredBy, null)
  const start = (await eventLog(app, thread.id)).length
  const linked = (await act(app, moderator, 'PUT', `/api/v1/posts/${question.id}/answer`, { updateId: update.id })).json()
  t.equal(linked.answeredBy, update.id)
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === question.id)!.answeredBy, update.id, 'in the API')
  const log = await eventLog(app, thread.id, start)
  t.same(log.map((e) => e.type), ['post.updated'])
  t.equal(log[0]!.payload.post.answeredBy, update.id)

  const page = await app.inject({ url: `/t/${thread.id}` })
  t.match(sectionById(page.body, `p-${question.id}`), new RegExp(`href="/posts/${update.id}">Answered in update #${update.id}<`), 'on the page')
  t.match((await app.inject({ url: `/t/${thread.id}?lang=fr` })).body, new RegExp(`Réponse dans le point de situation n°\u00a0${update.id}`))

  const audit = await app.db.selectFrom('audit_log').selectAll().where('post_id', '=', question.id).executeTakeFirstOrThrow()
  t.same([audit.action, audit.before, audit.after], ['post.answer', { answeredBy: null }, { answeredBy: update.id }])

  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/posts/${update.id}/answer`, headers: moderator.auth, payload: { updateId: update.id } }), 400, 'not_a_question')
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/posts/${question.id}/answer`, headers: moderator.auth, payload: { updateId: question.id } }), 400, 'invalid_answer')

  const unlinked = (await act(app, moderator, 'DELETE', `/api/v1/posts/${question.id}/answer`)).json()
  t.equal(unlinked.answeredBy, null)
  t.notMatch((await app.inject({ url: `/t/${thread.id}` })).body, /Answered in update/)

  const cookies = await signIn(app, moderator)
  const modPage = await app.inject({ url: `/t/${thread.id}`, cookies })
  const csrf = /name="_csrf" value="([^"]+)"/.exec(modPage.body)![1]!
  const form = await app.inject({ method: 'POST', url: `/posts/${question.id}/answer`, cookies, payload: { _csrf: csrf, updateId: String(update.id) } })
  t.equal(form.statusCode, 303, 'the form in the moderator tools of the comment links it too')
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === question.id)!.answeredBy, update.id)
  const typo = await app.inject({ method: 'POST', url: `/posts/${question.id}/answer`, cookies, payload: { _csrf: csrf, updateId: 'l2' } })
  t.equal(typo.statusCode, 400, 'a number mistyped is refused')
  t.match(typo.body, /The answer must be a visible update of the same thread/)
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === question.id)!.answeredBy, update.id, 'and unlinks nothing')
})

t.test('the edit history of a post is a page for moderators, linked from edited posts', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, customer, thread.id, { body: 'Frist version' })
  await act(app, customer, 'PATCH', `/api/v1/posts/${post.id}`, { body: 'First version' })
  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: `/t/${thread.id}`, cookies })
  t.match(page.body, new RegExp(`href="/posts/${post.id}/history"`), 'the link is on the edited post')
  const history = await app.inject({ url: `/posts/${post.id}/history`, cookies })
  t.equal(history.statusCode, 200)
  t.match(history.body, /Frist version/)
  t.match(history.body, /First version/)
  t.match(history.body, new RegExp(customer.actor.name))

  const customerCookies = await signIn(app, customer)
  t.notMatch((await app.inject({ url: `/t/${thread.id}`, cookies: customerCookies })).body, /\/history"/, 'not offered to customers')
  t.equal((await app.inject({ url: `/posts/${post.id}/history`, cookies: customerCookies })).statusCode, 403)
})

t.test('the current state does not repeat a status or a promise the thread has moved past', async (t) => {
  const thread = await openThread(app, tech)
  const pinned = await writePost(app, tech, thread.id, { body: 'Power back in room 3.', status: 'monitoring', nextUpdateAt: inFuture(40 * 60_000, app.deps.now().getTime()) })
  await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: pinned.id })
  await writePost(app, tech, thread.id, { body: 'All services back.', status: 'resolved' })
  const page = (await app.inject({ url: `/t/${thread.id}` })).body
  const box = sectionById(page, 'current-state')
  t.match(box, /Power back in room 3\./, 'the pinned post is the current state')
  t.notMatch(box, /Next update by/, 'without the promise it made, which no longer holds')
  t.notMatch(box, /status--monitoring/, 'nor the status it set, under a resolved incident')
  t.match(sectionById(page, 'thread-state'), /status--resolved/, 'the thread\'s own status is the one shown')
  const inList = sectionById(page, `p-${pinned.id}`)
  t.match(inList, /Next update by/, 'the post in the thread still says what it promised')
  t.match(inList, /status--monitoring/, 'and the status it set')
})
