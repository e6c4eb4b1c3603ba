import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { FLAGS_TO_HIDE } from '../../src/domain/flags.ts'
import type { ThreadEvent } from '../../src/live/events.ts'
import { buildTestApp, makeUser, type TestUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, eventLog, openThread, readPosts, writePost } from '../helpers/api.ts'
import { sectionById, signIn, submitForm } from '../helpers/pages.ts'

const published: ThreadEvent[] = []
const { app } = await buildTestApp(t, { onEvents: (events) => published.push(...events) })
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const author = await makeUser(app, 'customer')
const flaggers: TestUser[] = []
for (let i = 0; i < FLAGS_TO_HIDE + 1; i++) flaggers.push(await makeUser(app, 'customer'))

const flag = (user: TestUser, postId: number, reason = 'rumour') =>
  app.inject({ method: 'POST', url: `/api/v1/posts/${postId}/flags`, headers: user.auth, payload: { reason } })

const queue = async () => (await app.inject({ url: '/api/v1/flags', headers: moderator.auth })).json().flags as { post: { id: number }, count: number, reasons: Record<string, number>, pendingReview: boolean }[]

t.test(`${FLAGS_TO_HIDE} flags from distinct users hide a comment pending review, and not before`, async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'The fire was arson!' })
  const start = (await eventLog(app, thread.id)).length
  for (let i = 0; i < FLAGS_TO_HIDE - 1; i++) {
    const res = await flag(flaggers[i]!, post.id)
    assertStatus(t, res, 201)
    t.equal(res.json().hidden, false, `flag ${i + 1} does not hide`)
  }
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === post.id)!.hidden, false, 'still visible')
  t.same(await eventLog(app, thread.id, start), [], 'flagging is not a public event')

  published.length = 0
  const last = await flag(flaggers[FLAGS_TO_HIDE - 1]!, post.id)
  t.equal(last.json().hidden, true, 'the last flag hides')
  const seen = (await readPosts(app, thread.id)).find((p) => p.id === post.id)!
  t.equal(seen.hidden, true)
  t.equal(seen.hiddenReason, 'pending review')
  t.notOk('body' in seen, 'readers no longer see the text')
  const log = await eventLog(app, thread.id, start)
  t.same(log.map((e) => e.type), ['post.hidden'], 'a post.hidden event is logged')
  t.ok(published.some((e) => e.type === 'post.hidden' && e.threadId === thread.id), 'and pushed live')

  const page = await app.inject({ url: `/t/${thread.id}` })
  t.match(page.body, /Hidden pending review by a moderator/, 'readers see why')
  t.match((await app.inject({ url: `/t/${thread.id}?lang=fr` })).body, /Masqué en attendant l’examen/, 'in French too')

  const q = await queue()
  t.equal(q[0]!.post.id, post.id, 'it is on top of the queue')
  t.equal(q[0]!.pendingReview, true)
  t.equal(q[0]!.count, FLAGS_TO_HIDE)
  t.equal(q[0]!.reasons.rumour, FLAGS_TO_HIDE)
})

t.test('accounts made after a comment do not hide it with their flags, which still reach the moderators', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'The generator vendor says Thursday, not Tuesday.' })
  // Someone who dislikes it signs up three times.
  const throwaways: TestUser[] = []
  for (let i = 0; i < FLAGS_TO_HIDE; i++) throwaways.push(await makeUser(app, 'customer'))
  for (const user of throwaways) {
    const res = await flag(user, post.id, 'spam')
    assertStatus(t, res, 201)
    t.equal(res.json().hidden, false, 'not hidden by an account made after it')
  }
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === post.id)!.hidden, false, 'readers still see it')
  const queued = (await queue()).find((entry) => entry.post.id === post.id)
  t.equal(queued?.count, FLAGS_TO_HIDE, 'the moderators see every flag')
  // Accounts older than the comment still count: with two more, it is hidden pending review.
  assertStatus(t, await flag(flaggers[0]!, post.id), 201)
  t.equal((await flag(flaggers[1]!, post.id)).json().hidden, false, 'two that count are not enough')
  t.equal((await flag(flaggers[2]!, post.id)).json().hidden, true, 'three are')
})

t.test('flags from one user count once', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Buy cheap watches' })
  assertStatus(t, await flag(flaggers[0]!, post.id, 'spam'), 201)
  for (let i = 0; i < FLAGS_TO_HIDE; i++) assertError(t, await flag(flaggers[0]!, post.id, 'abusive'), 409, 'already_flagged')
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === post.id)!.hidden, false)
  const item = (await queue()).find((i) => i.post.id === post.id)!
  t.equal(item.count, 1)
  t.same(item.reasons, { spam: 1, rumour: 0, abusive: 0 })
})

t.test('staff comments are never hidden by flags, though the flags are recorded', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, tech, thread.id, { body: 'We expect power by noon.', kind: 'comment' })
  for (const user of flaggers) assertStatus(t, await flag(user, post.id), 201)
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === post.id)!.hidden, false)
  t.equal((await queue()).find((i) => i.post.id === post.id)!.count, flaggers.length)
})

t.test('bad flags are refused', async (t) => {
  const thread = await openThread(app, tech)
  const [update] = await readPosts(app, thread.id)
  const post = await writePost(app, author, thread.id, { body: 'Mine' })
  assertError(t, await flag(flaggers[0]!, post.id, 'boring'), 400, 'invalid_flag_reason')
  assertError(t, await flag(flaggers[0]!, update!.id), 400, 'flag_not_comment')
  assertError(t, await flag(author, post.id), 400, 'flag_own_post')
  assertError(t, await flag(flaggers[0]!, 999_999), 404)
})

t.test('hide from the queue uses the flag reason, closes the flags and is audited', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Nonsense' })
  await flag(flaggers[0]!, post.id, 'abusive')
  await flag(flaggers[1]!, post.id, 'abusive')
  const start = (await eventLog(app, thread.id)).length
  const hidden = (await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/flags/hide`)).json()
  t.equal(hidden.hidden, true)
  t.equal(hidden.hiddenReason, 'abusive')
  t.same((await eventLog(app, thread.id, start)).map((e) => e.type), ['post.hidden'])
  t.notOk((await queue()).some((i) => i.post.id === post.id), 'off the queue')
  const row = await app.db.selectFrom('audit_log').selectAll().where('post_id', '=', post.id).orderBy('id', 'desc').executeTakeFirstOrThrow()
  t.equal(row.action, 'flags.hide')
  t.equal(row.actor_id, moderator.actor.id)
  t.same(row.before, { hidden: false, reason: null })
  t.same(row.after, { hidden: true, reason: 'abusive' })
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/flags/hide`, headers: moderator.auth }), 404)
  const french = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })
  t.match(french.body, /Abusif/, 'readers of the French page read the reason in French')
  t.notMatch(french.body, /abusive/, 'and not the English word')
})

t.test('dismissing brings back a comment hidden pending review', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'The generator arrived' })
  for (let i = 0; i < FLAGS_TO_HIDE; i++) await flag(flaggers[i]!, post.id)
  const start = (await eventLog(app, thread.id)).length
  const back = (await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/flags/dismiss`)).json()
  t.equal(back.hidden, false)
  t.same((await eventLog(app, thread.id, start)).map((e) => e.type), ['post.restored'])
  const row = await app.db.selectFrom('audit_log').selectAll().where('post_id', '=', post.id).orderBy('id', 'desc').executeTakeFirstOrThrow()
  t.equal(row.action, 'flags.dismiss')
  t.same(row.before, { hidden: true, reason: 'pending review' })
  t.same(row.after, { hidden: false })
  t.notOk((await queue()).some((i) => i.post.id === post.id))
})

t.test('the page: a flag control on comments, the queue with one-click actions', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Spam spam spam' })
  const cookies = await signIn(app, flaggers[0]!)
  const page = await app.inject({ url: `/t/${thread.id}`, cookies })
  t.match(page.body, new RegExp(`action="/posts/${post.id}/flag"`), 'a flag form on the comment')
  // As a browser asks for it: compressed, and kept for this reader.
  const kept = async () => gunzipSync((await app.inject({ url: `/t/${thread.id}`, cookies, headers: { 'accept-encoding': 'gzip' } })).rawPayload).toString()
  t.match(await kept(), new RegExp(`action="/posts/${post.id}/flag"`))
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  const res = await app.inject({ method: 'POST', url: `/posts/${post.id}/flag`, cookies, payload: { _csrf: csrf, reason: 'spam' } })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, `/t/${thread.id}?flagged=${post.id}#p-${post.id}`, 'back at the comment')
  const thanked = await app.inject({ url: String(res.headers.location), cookies })
  t.match(thanked.body, new RegExp(`role="status">Thank you: comment #${post.id} is flagged, and the moderators will look at it\\.`), 'which says it was flagged')
  t.match((await app.inject({ url: `/t/${thread.id}?flagged=${post.id}&lang=fr`, cookies })).body, new RegExp(`Merci\u00a0: le commentaire n°\u00a0${post.id} est signalé`), 'in French too')
  const reloaded = await kept()
  t.notMatch(reloaded, /role="status">Thank you/, 'once, not on the next visit')
  t.notMatch(reloaded, new RegExp(`action="/posts/${post.id}/flag"`), 'where the page, kept for this reader before, no longer offers to flag it')
  const later = (await app.inject({ url: `/t/${thread.id}?lang=en`, cookies })).body
  t.notMatch(later, new RegExp(`action="/posts/${post.id}/flag"`), 'no form to flag it again')
  t.match(sectionById(later, `p-${post.id}`), /<p class="post__flagged">You flagged this comment to the moderators\.<\/p>/, 'the comment says they flagged it')
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}?lang=fr`, cookies })).body, `p-${post.id}`), /Vous avez signalé ce commentaire aux modérateurs\./, 'in French too')
  t.match((await app.inject({ url: `/t/${thread.id}`, cookies: await signIn(app, flaggers[1]!) })).body, new RegExp(`action="/posts/${post.id}/flag"`), 'another reader may still flag it')
  t.notMatch((await app.inject({ url: `/t/${thread.id}?flagged=${post.id}` })).body, /Thank you: comment/, 'nor for a reader who flagged nothing')
  t.notMatch((await app.inject({ url: `/t/${thread.id}?flagged=${post.id}&lang=en`, cookies: await signIn(app, flaggers[2]!) })).body, /Thank you: comment/, 'signed in or not: the address passed on thanks only who flagged it')
  const again = await app.inject({ method: 'POST', url: `/posts/${post.id}/flag`, cookies, payload: { _csrf: csrf, reason: 'spam' } })
  t.equal(again.statusCode, 303, 'a second click is no error')
  t.equal(again.headers.location, res.headers.location, 'but the same thanks')
  t.equal(Number((await app.db.selectFrom('flags').select((eb) => eb.fn.countAll().as('n')).where('post_id', '=', post.id).executeTakeFirstOrThrow()).n), 1, 'and one flag')

  const modCookies = await signIn(app, moderator)
  const queuePage = await app.inject({ url: '/mod/flags', cookies: modCookies })
  t.equal(queuePage.statusCode, 200)
  t.match(queuePage.body, /Spam spam spam/)
  t.match(queuePage.body, new RegExp(`action="/mod/flags/${post.id}/hide"`))
  t.match(queuePage.body, /Spam: 1 · Rumour: 0/)
  t.match((await app.inject({ url: '/mod/flags?lang=fr', cookies: modCookies })).body, /Spam\u00a0: 1 · Rumeur\u00a0: 0/, 'with French spacing')
  const modCsrf = /name="_csrf" value="([^"]+)"/.exec(queuePage.body)![1]!
  const hideKey = new RegExp(`action="/mod/flags/${post.id}/hide"[^>]*>\\s*<input[^>]*>\\s*<input type="hidden" name="idempotencyKey" value="([^"]+)"`).exec(queuePage.body)?.[1]
  t.ok(hideKey, 'the form carries its own key')
  // A double click: both answers take the moderator back to the queue, not to "no open flag".
  const [hide, twice] = await Promise.all([0, 1].map(() =>
    app.inject({ method: 'POST', url: `/mod/flags/${post.id}/hide`, cookies: modCookies, payload: { _csrf: modCsrf, idempotencyKey: hideKey! } })))
  t.same([hide!.statusCode, twice!.statusCode], [303, 303])
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === post.id)!.hiddenReason, 'spam')
  // A second moderator, on the queue as it was before: the flags are handled, and the queue says so.
  const dismissKey = new RegExp(`action="/mod/flags/${post.id}/dismiss"[^>]*>\\s*<input[^>]*>\\s*<input type="hidden" name="idempotencyKey" value="([^"]+)"`).exec(queuePage.body)?.[1]
  const late = await app.inject({ method: 'POST', url: `/mod/flags/${post.id}/dismiss`, cookies: modCookies, payload: { _csrf: modCsrf, idempotencyKey: dismissKey! } })
  t.equal(late.statusCode, 200, 'no error page')
  // In French: the ?lang=fr above is this moderator's choice now.
  t.match(late.body, /<p class="notice" id="flags-handled" role="status">Quelqu’un d’autre a traité ces signalements entre-temps/)
  t.match(late.body, /<h1>Commentaires signalés<\/h1>/, 'the queue, as it is now')

  const customerQueue = await app.inject({ url: '/mod/flags', cookies })
  t.equal(customerQueue.statusCode, 403, 'customers have no queue')
})

t.test('a comment cannot be pinned; one pinned before, then hidden by its flags, is no longer the current state', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Pinned by mistake' })
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: post.id } }), 400, 'comment_not_pinnable')
  t.notMatch(sectionById((await app.inject({ url: `/t/${thread.id}`, cookies: await signIn(app, moderator) })).body, `p-${post.id}`), /action="\/t\/\d+\/pin"/, 'no Pin button on a comment')
  // Pinned when comments still could be.
  await app.db.updateTable('threads').set({ pinned_post_id: post.id }).where('id', '=', thread.id).execute()
  await app.db.insertInto('pins').values({ thread_id: thread.id, post_id: post.id, pinned_by: moderator.actor.id, pinned_at: app.deps.now() }).execute()
  const start = (await eventLog(app, thread.id)).length
  for (let i = 0; i < FLAGS_TO_HIDE; i++) await flag(flaggers[i]!, post.id)
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().pinnedPostId, null)
  t.same((await eventLog(app, thread.id, start)).map((e) => e.type), ['post.hidden', 'thread.updated'])
  const pins = (await app.inject({ url: `/api/v1/threads/${thread.id}/pins` })).json().pins
  t.type(pins[0].unpinnedAt, 'string', 'its pin is closed')
  const audit = (await app.inject({ url: `/api/v1/audit?threadId=${thread.id}`, headers: moderator.auth })).json().audit
  t.match(audit[0], {
    action: 'flags.autohide',
    actor: { id: flaggers[FLAGS_TO_HIDE - 1]!.actor.id },
    postId: post.id,
    before: { hidden: false, pinnedPostId: post.id },
    after: { hidden: true, flags: FLAGS_TO_HIDE, pinnedPostId: null },
    reason: 'pending review'
  }, 'the audit log says the flags hid and unpinned it, by whose flag')
})

t.test("a moderator's own hide or restore on the thread closes the comment's open flags", async (t) => {
  const thread = await openThread(app, tech)
  const restored = await writePost(app, author, thread.id, { body: 'The generator is on fire again!' })
  for (let i = 0; i < FLAGS_TO_HIDE; i++) assertStatus(t, await flag(flaggers[i]!, restored.id), 201)
  t.ok((await queue()).some((entry) => entry.post.id === restored.id && entry.pendingReview), 'hidden pending review, in the queue')
  await act(app, moderator, 'POST', `/api/v1/posts/${restored.id}/restore`)
  t.notOk((await queue()).some((entry) => entry.post.id === restored.id), 'restored on the thread: out of the queue')
  assertStatus(t, await flag(flaggers[FLAGS_TO_HIDE]!, restored.id), 201)
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === restored.id)!.hidden, false, 'one more flag does not hide it again at once')

  const hidden = await writePost(app, author, thread.id, { body: 'Staff are lying to us.' })
  assertStatus(t, await flag(flaggers[0]!, hidden.id), 201)
  await act(app, moderator, 'POST', `/api/v1/posts/${hidden.id}/hide`, { reason: 'abusive' })
  t.notOk((await queue()).some((entry) => entry.post.id === hidden.id), 'hidden on the thread: out of the queue')
})

t.test('a comment hidden pending review, hidden on the thread with a reason, takes that reason and leaves the queue', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Refunds at this link' })
  for (let i = 0; i < FLAGS_TO_HIDE; i++) assertStatus(t, await flag(flaggers[i]!, post.id, 'spam'), 201)
  const start = (await eventLog(app, thread.id)).length
  published.length = 0
  const hidden = (await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/hide`, { reason: 'Phishing link' })).json()
  t.equal(hidden.hiddenReason, 'Phishing link')
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === post.id)!.hiddenReason, 'Phishing link', 'readers read the moderator\'s reason')
  t.notOk((await queue()).some((entry) => entry.post.id === post.id), 'reviewed: out of the queue')
  t.same((await eventLog(app, thread.id, start)).map((e) => e.type), ['post.hidden'], 'one event')
  t.ok(published.some((e) => e.type === 'post.hidden' && e.post?.hiddenReason === 'Phishing link'), 'pushed live with the new reason')
  const row = await app.db.selectFrom('audit_log').selectAll().where('post_id', '=', post.id).orderBy('id', 'desc').executeTakeFirstOrThrow()
  t.equal(row.action, 'post.hide')
  t.same(row.before, { hidden: true, reason: 'pending review' })
  t.equal(row.reason, 'Phishing link')
  const page = await app.inject({ url: `/t/${thread.id}` })
  t.match(page.body, /Hidden by a moderator: .*Phishing link/)
  t.notMatch(page.body, /Hidden pending review/)

  // From the thread's page: the comment hidden pending review offers its Hide form beside Restore.
  const other = await writePost(app, author, thread.id, { body: 'Free money here' })
  for (let i = 0; i < FLAGS_TO_HIDE; i++) assertStatus(t, await flag(flaggers[i]!, other.id, 'spam'), 201)
  const cookies = await signIn(app, moderator)
  const seen = sectionById((await app.inject({ url: `/t/${thread.id}`, cookies })).body, `p-${other.id}`)
  t.match(seen, new RegExp(`action="/posts/${other.id}/restore"`), 'Restore is offered')
  t.match(seen, new RegExp(`action="/posts/${other.id}/hide"`), 'and Hide, with a reason')
  t.notMatch(sectionById((await app.inject({ url: `/t/${thread.id}`, cookies })).body, `p-${post.id}`), new RegExp(`action="/posts/${post.id}/hide"`), 'not on one a moderator hid')
  const sent = await submitForm(app, cookies, `/t/${thread.id}`, `/posts/${other.id}/hide`, { reason: 'Scam' })
  t.equal(sent.statusCode, 303)
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === other.id)!.hiddenReason, 'Scam', 'the page\'s hide reviews it')
  t.notOk((await queue()).some((entry) => entry.post.id === other.id), 'out of the queue')
})

t.test('in read-only crisis mode, customers cannot edit their comments either', async (t) => {
  const thread = await openThread(app, tech)
  const comment = await writePost(app, author, thread.id, { body: 'Any news?' })
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { crisisMode: true, crisisReadOnly: true })
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${comment.id}`, headers: author.auth, payload: { body: 'Any news? Anyone?' } }), 403, 'crisis_read_only')
  t.equal((await readPosts(app, thread.id)).find((p) => p.id === comment.id)!.body, 'Any news?', 'the comment stays as it was')
  assertStatus(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${comment.id}`, headers: moderator.auth, payload: { body: 'Any news? (edited by a moderator)' } }), 200, 'moderators still edit')
})
