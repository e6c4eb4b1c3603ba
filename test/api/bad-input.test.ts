import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import pino from 'pino'
import t from 'tap'
import { BODY_LIMIT } from '../../src/app.ts'
import { BODY_MAX, validatePromise } from '../../src/domain/posts.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError, assertStatus, inFuture, openThread, readPosts, writePost } from '../helpers/api.ts'
import { listen } from '../helpers/live.ts'
import { signIn } from '../helpers/pages.ts'

const { app } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const customer = await makeUser(app, 'customer')
const moderator = await makeUser(app, 'moderator')
const thread = await openThread(app, tech)
const postsUrl = `/api/v1/threads/${thread.id}/posts`
const countPosts = async () => (await readPosts(app, thread.id)).length

t.test('malformed JSON is a 400', async (t) => {
  const before = await countPosts()
  for (const payload of ['{"body":', '{body: "x"}', 'not json', '{"body":"x"}}']) {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': 'application/json' }, payload })
    assertError(t, res, 400)
  }
  const empty = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': 'application/json' }, payload: '' })
  assertError(t, empty, 400)
  t.equal(await countPosts(), before, 'nothing was posted')
})

t.test('a request body over the limit is a 413', async (t) => {
  const res = await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'x'.repeat(BODY_LIMIT + 1) } })
  assertError(t, res, 413)
  const anonymous = await app.inject({ method: 'POST', url: postsUrl, payload: { body: 'x'.repeat(BODY_LIMIT + 1) } })
  t.ok([401, 413].includes(anonymous.statusCode), 'an anonymous caller is refused too')
  assertError(t, anonymous, anonymous.statusCode)
})

t.test(`a post is at most ${BODY_MAX} characters`, async (t) => {
  const longest = await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'é'.repeat(BODY_MAX) } })
  assertStatus(t, longest, 201, `${BODY_MAX} characters are fine`)
  t.equal(longest.json().body.length, BODY_MAX)
  const before = await countPosts()
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'a'.repeat(BODY_MAX + 1) } }), 400, 'body_too_long')
  const own = longest.json().id
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${own}`, headers: customer.auth, payload: { body: 'b'.repeat(BODY_MAX + 1) } }), 400, 'body_too_long')
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'Too long', body: 'c'.repeat(BODY_MAX + 1) } }), 400, 'body_too_long')
  const french = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'accept-language': 'fr' }, payload: { body: 'd'.repeat(BODY_MAX + 1) } })
  t.equal(french.json().error.message, 'Un message compte au plus 20\u00a0000 caractères.', 'in French, the number in one piece: a narrow screen does not break it')
  t.equal(await countPosts(), before, 'nothing was posted')
})

t.test('a call that takes no body is answered when it comes typed with none, as client libraries send it', async (t) => {
  const post = await writePost(app, customer, thread.id, { body: 'Soon hidden, and back.' })
  const json = { 'content-type': 'application/json' }
  assertStatus(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/hide`, headers: { ...moderator.auth, ...json }, payload: '{"reason":"test"}' }), 200)
  const restored = await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/restore`, headers: { ...moderator.auth, ...json } })
  assertStatus(t, restored, 200)
  t.equal(restored.json().hidden, false, 'the post is back')
  // fetch's empty body is text/plain.
  assertStatus(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/hide`, headers: { ...moderator.auth, ...json }, payload: '{"reason":"again"}' }), 200)
  const asText = await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/restore`, headers: { ...moderator.auth, 'content-type': 'text/plain;charset=UTF-8', 'content-length': '0' } })
  assertStatus(t, asText, 200)
  const update = await writePost(app, tech, thread.id, { body: 'The current state, pinned a moment.' })
  assertStatus(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: update.id } }), 200)
  const unpinned = await app.inject({ method: 'DELETE', url: `/api/v1/threads/${thread.id}/pin`, headers: { ...moderator.auth, 'content-type': 'application/json; charset=utf-8' } })
  assertStatus(t, unpinned, 200)
  t.equal(unpinned.json().pinnedPostId, null, 'nothing is pinned')
  // A call that needs a body still says so.
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, ...json } }), 400, 'invalid_request')
})

t.test('an empty body is refused', async (t) => {
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: '' } }), 400)
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: '   \n\t ' } }), 400, 'empty_body')
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: {} }), 400)
})

t.test('wrong types', async (t) => {
  // A JSON body is taken as typed: a number is no text, and a null is no "", 0 or false.
  const existing = await writePost(app, customer, thread.id, { body: 'A comment to hide.' })
  const before = await countPosts()
  for (const body of [5, null, {}, { text: 'x' }, [], ['a', 'b']]) {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body } })
    assertError(t, res, 400)
  }
  for (const payload of [[{ body: 'x' }], 'just a string', 42, null]) {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
    assertError(t, res, 400)
  }
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'x', replyTo: 'first' } }), 400)
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'x', kind: 'announcement' } }), 400, 'invalid_kind')
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'x', status: 'on fire' } }), 400, 'invalid_status')
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'x', kind: 'comment', status: 'identified' } }), 400, 'status_on_comment')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { locked: 'maybe' } }), 400)
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { locked: 'true' } }), 400)
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { locked: true, slowModeSeconds: null } }), 400)
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { slowModeSeconds: 1.5 } }), 400)
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { slowModeSeconds: -1 } }), 400)
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { slowModeSeconds: 86_400 } }), 400, 'invalid_slow_mode')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { title: '  ' } }), 400, 'invalid_title')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: tech.auth, payload: { status: 'done' } }), 400, 'invalid_status')
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/threads', headers: tech.auth, payload: { title: 'x'.repeat(201), body: 'x' } }), 400, 'invalid_title')
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: 'first' } }), 400)
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${existing.id}/hide`, headers: moderator.auth, payload: { reason: '' } }), 400, 'invalid_reason')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${existing.id}/hide`, headers: moderator.auth, payload: {} }), 400)
  t.equal(await countPosts(), before, 'nothing was posted')
  const current = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json()
  t.same([current.locked, current.slowModeSeconds, current.title, current.status], [false, 0, thread.title, 'investigating'], 'the thread is unchanged')
})

t.test('a null where the API itself writes null means none, and is not refused', async (t) => {
  const statusBefore = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().status
  const update = await app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'No promise this time.', nextUpdateAt: null, replyTo: null, status: null } })
  assertStatus(t, update, 201)
  t.same([update.json().kind, update.json().nextUpdateAt, update.json().replyTo, update.json().status], ['update', null, null, null], 'an update with no promise, no reply and no status')
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().status, statusBefore, 'the incident\'s status as it was')
  const comment = await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'Thanks.', nextUpdateAt: null, status: null } })
  assertStatus(t, comment, 201)
  t.equal(comment.json().kind, 'comment', "a customer's comment, not refused as asking for a promise")
  const handover = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, headers: tech.auth, payload: { done: 'Restarted.', nextUpdateAt: null } })
  assertStatus(t, handover, 201)
  t.equal(handover.json().nextUpdateAt, null)
  const cadence = await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { cadenceMinutes: null } })
  assertStatus(t, cadence, 200)
})

t.test('a title with a lone surrogate half is renamed, and audited, as any other', async (t) => {
  const renamed = await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { title: 'Outage \uD800 in hall C' } })
  assertStatus(t, renamed, 200)
  t.equal(renamed.json().title, 'Outage \uFFFD in hall C', 'the half becomes the replacement character')
  const audit = (await app.inject({ url: `/api/v1/audit?threadId=${thread.id}`, headers: moderator.auth })).json().audit
  t.same(audit[0].after, { title: 'Outage \uFFFD in hall C' }, 'the audit log has the title as it was applied')
  await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { title: thread.title } })
})

t.test('a preview shows the text as it would be posted: a lone surrogate half replaced, U+0000 refused', async (t) => {
  const preview = await app.inject({ method: 'POST', url: '/api/v1/preview', headers: customer.auth, payload: { body: 'Fan \uD800 noise' } })
  assertStatus(t, preview, 200)
  t.match(preview.json().html, 'Fan \uFFFD noise')
  t.notOk(/[\uD800-\uDFFF]/.test(preview.json().html), 'no half of a pair left in it')
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/preview', headers: customer.auth, payload: { body: 'Fan \u0000 noise' } }), 400, 'invalid_characters')
})

t.test('bad query strings are a 400', async (t) => {
  for (const query of ['?limit=0', '?limit=201', '?limit=ten', '?after=-1', '?after=x', '?kind=handover']) {
    assertError(t, await app.inject({ url: `${postsUrl}${query}` }), 400)
  }
  // Numbers a JavaScript reader would take, but not written in digits: an
  // infinite one would pass the bounds and fail in the database.
  for (const query of ['?after=Infinity', '?after=1e400', '?limit=-Infinity', '?limit=Infinity', '?limit=0x10', '?after=%201', `?after=${'9'.repeat(309)}`, `?after=${'9'.repeat(16)}`]) {
    assertError(t, await app.inject({ url: `${postsUrl}${query}` }), 400, 'invalid_request')
  }
  assertError(t, await app.inject({ url: '/api/v1/threads?limit=Infinity' }), 400, 'invalid_request')
  assertError(t, await app.inject({ url: '/api/v1/audit?threadId=Infinity', headers: moderator.auth }), 400, 'invalid_request')
})

t.test('an address the router cannot read is a 400 in the contract\'s shape; one of slashes is a 404 page', async (t) => {
  for (const url of ['/%', '/t/%zz', '/api/v1/threads/%E0%A4%A']) {
    assertError(t, await app.inject({ url, headers: { accept: 'application/json' } }), 400, 'invalid_request')
  }
  assertError(t, await app.inject({ url: '/api/v1/threads/%E0%A4%A', headers: { accept: 'text/html' } }), 400, 'invalid_request')
  const french = await app.inject({ url: '/%', headers: { accept: 'application/json', 'accept-language': 'fr' } })
  t.equal(french.json().error.message, 'La requête n’est pas valide.', 'in French for a French reader')
  t.match(french.headers['content-security-policy'], /default-src 'self'/, 'with the security headers of every answer')
  t.equal(french.headers['x-frame-options'], 'DENY')
  const asked = await app.inject({ url: '/api/v1/threads/%E0%A4%A?lang=fr' })
  t.equal(asked.json().error.message, 'La requête n’est pas valide.', 'in the language its ?lang= asks for')
  const english = await app.inject({ url: '/api/v1/threads/%ZZ' })
  t.equal(english.json().error.message, 'The request is not valid.', 'in our words, not the address said back')
  // A link cut short in a chat, opened in a browser.
  const cut = await app.inject({ url: '/t/2/panne-r%C3%A', headers: { accept: 'text/html', 'accept-language': 'fr' } })
  t.equal(cut.statusCode, 400)
  t.match(cut.headers['content-type'], /^text\/html/, 'a browser gets the error page')
  t.match(cut.body, /<html lang="fr">/, 'in its reader\'s language')
  t.match(cut.body, /<p class="error-message">La requête n’est pas valide\.<\/p>/)
  t.match(cut.body, /<a class="button" href="\/">/, 'with the way back to the incidents')
  t.match(cut.headers['content-security-policy'], /default-src 'self'/)
  for (const url of ['//', '///', '//a:b@/', '//:99999/x', '//evil.example/x']) {
    const res = await app.inject({ url, headers: { accept: 'text/html' } })
    t.equal(res.statusCode, 404, `${url}: not found`)
    t.match(res.body, /<h1[^>]*>[^<]+<\/h1>/, `${url}: the error page`)
    t.notMatch(res.body, /href="\/\//, `${url}: whose links all stay on this site`)
  }
})

t.test('unknown things are a 404', async (t) => {
  const missing = 999_999
  assertError(t, await app.inject({ url: `/api/v1/threads/${missing}` }), 404, 'not_found')
  assertError(t, await app.inject({ url: `/api/v1/threads/${missing}/posts` }), 404, 'not_found')
  assertError(t, await app.inject({ url: `/api/v1/posts/${missing}` }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${missing}/posts`, headers: customer.auth, payload: { body: 'Hello' } }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/threads/${missing}`, headers: tech.auth, payload: { status: 'resolved' } }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${missing}/pin`, headers: moderator.auth, payload: { postId: 1 } }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'DELETE', url: `/api/v1/threads/${missing}/pin`, headers: moderator.auth }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${missing}`, headers: customer.auth, payload: { body: 'x' } }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${missing}/hide`, headers: moderator.auth, payload: { reason: 'x' } }), 404, 'not_found')
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${missing}/restore`, headers: moderator.auth }), 404, 'not_found')
  assertError(t, await app.inject({ url: `/api/v1/posts/${missing}/revisions`, headers: moderator.auth }), 404, 'not_found')
  assertError(t, await app.inject({ url: '/api/v1/nothing-here' }), 404, 'not_found')
})

t.test('a promise that is not a date is told so, in French as in English', async (t) => {
  const say = async (nextUpdateAt: string, language: string) => (await app.inject({ method: 'POST', url: postsUrl, headers: { ...tech.auth, 'accept-language': language }, payload: { body: 'Update.', nextUpdateAt } })).json().error.message as string
  t.equal(await say('tomorrow', 'en'), 'The next update time must be a date and time with its offset from UTC, e.g. 2026-11-25T16:30:00Z.')
  t.equal(await say('tomorrow', 'fr'), 'L’heure du prochain point doit être une date et une heure avec leur décalage par rapport à UTC, par exemple 2026-11-25T16:30:00Z.')
  t.equal(await say(new Date(Date.now() + 8 * 24 * 3_600_000).toISOString(), 'fr'), 'Le prochain point doit être prévu dans les sept jours à venir.', 'a date too far is told apart')
})

t.test('a 404 says what is missing, in French as in English', async (t) => {
  const say = async (url: string, language: string) => (await app.inject({ url, headers: { 'accept-language': language } })).json().error.message as string
  t.equal(await say('/api/v1/threads/999999', 'en'), 'No such thread.')
  t.equal(await say('/api/v1/threads/999999', 'fr'), 'Cet incident n’existe pas\u00a0: l’adresse est peut-être mal saisie.')
  t.equal(await say('/api/v1/posts/999999', 'en'), 'No such post.')
  t.equal(await say('/api/v1/posts/999999', 'fr'), 'Ce message n’existe pas\u00a0: l’adresse est peut-être mal saisie.')
  t.equal(await say('/api/v1/nothing-here', 'fr'), 'Il n’y a rien ici.', 'an address that leads nowhere is just nothing')
})

t.test('an id that is not a positive integer is a 400', async (t) => {
  for (const id of ['abc', '0', '-1', '1.5', '99999999999', 'Infinity', '-Infinity', '1e400', '0x1', '%201']) {
    assertError(t, await app.inject({ url: `/api/v1/threads/${id}` }), 400, 'invalid_request')
    assertError(t, await app.inject({ url: `/api/v1/posts/${id}` }), 400, 'invalid_request')
    assertError(t, await app.inject({ url: `/api/v1/threads/${id}/pins` }), 400, 'invalid_request')
  }
  for (const id of ['abc', 'Infinity']) {
    assertError(t, await app.inject({ method: 'POST', url: `/api/v1/threads/${id}/posts`, headers: customer.auth, payload: { body: 'x' } }), 400)
    assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${id}`, headers: customer.auth, payload: { body: 'x' } }), 400)
    assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${id}/hide`, headers: moderator.auth, payload: { reason: 'x' } }), 400)
    assertError(t, await app.inject({ method: 'DELETE', url: `/api/v1/threads/${id}/pin`, headers: moderator.auth }), 400)
  }
})

t.test('an unsupported content type is bad input: 400, as the contract says', async (t) => {
  const before = await countPosts()
  for (const contentType of ['application/xml', 'text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream', 'image/png']) {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': contentType }, payload: '<body>Hello</body>' })
    assertError(t, res, 400, 'unsupported_media_type')
  }
  t.equal(await countPosts(), before, 'nothing was posted')
  // A call that reads no body refuses one of a type not taken all the same.
  const hidden = await writePost(app, customer, thread.id, { body: 'To be hidden, then restored.' })
  await app.inject({ method: 'POST', url: `/api/v1/posts/${hidden.id}/hide`, headers: moderator.auth, payload: { reason: 'test' } })
  const restore = await app.inject({ method: 'POST', url: `/api/v1/posts/${hidden.id}/restore`, headers: { ...moderator.auth, 'content-type': 'text/plain' }, payload: 'hello' })
  assertError(t, restore, 400, 'unsupported_media_type')
})

t.test('a body sent with a Content-Encoding is refused for it, compressed or not, and nothing is posted', async (t) => {
  const before = await countPosts()
  const json = JSON.stringify({ body: 'Sent as gzip' })
  const sent = [
    ['gzip', gzipSync(json), 'application/json'],
    ['gzip', json, 'application/json'],
    ['br', json, 'application/json'],
    ['deflate, gzip', json, 'application/json']
  ] as const
  for (const [encoding, payload, contentType] of sent) {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': contentType, 'content-encoding': encoding }, payload })
    assertError(t, res, 400, 'unsupported_encoding')
    t.match(res.json().error.message, /uncompressed/)
  }
  const french = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': 'application/json', 'content-encoding': 'gzip', 'accept-language': 'fr' }, payload: json })
  t.match(french.json().error.message, /sans compression/, 'in French too')
  const cookies = await signIn(app, customer)
  const form = await app.inject({ method: 'POST', url: `/t/${thread.id}/posts`, cookies, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, payload: gzipSync('body=Hello') })
  t.equal(form.statusCode, 400, 'a form too')
  t.match(form.body, /Send the request uncompressed/)
  t.equal(await countPosts(), before, 'nothing was posted')
  const identity = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'content-type': 'application/json', 'content-encoding': 'identity' }, payload: json })
  assertStatus(t, identity, 201, 'identity is no encoding: taken')
  // A request with no body has nothing compressed to read: it is answered as any other.
  for (const url of ['/', `/t/${thread.id}`, '/api/v1/threads', '/healthz']) {
    assertStatus(t, await app.inject({ url, headers: { 'content-encoding': 'gzip' } }), 200, `GET ${url} with the header: 200`)
  }
  assertStatus(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${(await readPosts(app, thread.id)).at(-1)!.id}/restore`, headers: { ...moderator.auth, 'content-encoding': 'gzip' } }), 200, 'a POST with no body too')
})

t.test('a promised time says its offset from UTC: without one, it would be read by the server\'s clock', async (t) => {
  const at = new Date(app.deps.now().getTime() + 60 * 60_000)
  at.setUTCMilliseconds(0)
  const promise = (nextUpdateAt: string) => app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'Update with a promise.', nextUpdateAt } })
  const local = at.toISOString().replace(/\.\d+Z$/, '')
  for (const nextUpdateAt of [local, local.replace('T', ' '), local.slice(0, 16), local.slice(0, 10), at.toUTCString().replace(' GMT', ''), at.toString()]) {
    assertError(t, await promise(nextUpdateAt), 400, 'invalid_next_update')
  }
  const inParis = new Date(at.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00')
  // ISO 8601 with its offset, or HTTP's date (what toUTCString writes), which names GMT.
  for (const nextUpdateAt of [at.toISOString(), `${local}Z`, `${local.replace('T', ' ')}Z`, inParis, at.toUTCString()]) {
    const res = await promise(nextUpdateAt)
    assertStatus(t, res, 201)
    t.equal(res.json().nextUpdateAt, at.toISOString(), `${nextUpdateAt}: the same moment`)
  }
})

t.test('a promised day the calendar does not have is refused, not read as a day of the next month', async (t) => {
  const now = new Date('2026-02-27T12:00:00Z')
  t.throws(() => validatePromise('2026-02-30T10:00:00Z', now), { code: 'invalid_next_update', messageKey: 'errors.invalid_next_update.date' }, '30 February')
  t.throws(() => validatePromise('2026-02-29T10:00:00Z', now), { code: 'invalid_next_update' }, '29 February, in a year without it')
  t.equal(validatePromise('2026-03-02T10:00:00Z', now)?.toISOString(), '2026-03-02T10:00:00.000Z', '2 March itself is taken')
  t.equal(validatePromise('Sat, 28 Feb 2026 10:00:00 GMT', now)?.toISOString(), '2026-02-28T10:00:00.000Z', 'as is an HTTP date')
})

t.test('a reply names a post of the same thread', async (t) => {
  const other = await openThread(app, tech, { title: 'Another incident' })
  const [elsewhere] = await readPosts(app, other.id)
  const before = await countPosts()
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'Re', replyTo: elsewhere!.id } }), 400, 'invalid_reply')
  assertError(t, await app.inject({ method: 'POST', url: postsUrl, headers: customer.auth, payload: { body: 'Re', replyTo: 999_999 } }), 400, 'invalid_reply')
  t.equal(await countPosts(), before, 'nothing was posted')
  const [first] = await readPosts(app, thread.id)
  const reply = await writePost(app, customer, thread.id, { body: 'Re: first', replyTo: first!.id })
  t.equal(reply.replyTo, first!.id, 'a reply within the thread is fine')
})

t.test('the next update is a valid time within the coming week', async (t) => {
  const before = await countPosts()
  for (const nextUpdateAt of [inFuture(-60_000), 'tomorrow', '2026-13-45T99:00:00Z', inFuture(8 * 24 * 3_600_000), '']) {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'Next update soon.', nextUpdateAt } })
    assertError(t, res, 400, nextUpdateAt === '' ? undefined : 'invalid_next_update')
  }
  t.equal(await countPosts(), before, 'nothing was posted')
  const ok = await writePost(app, tech, thread.id, { body: 'Next update in an hour.', nextUpdateAt: inFuture(3_600_000) })
  t.ok(ok.nextUpdateAt, 'an hour ahead is fine')
})

t.test('POST /api/v1/tokens with bad input', async (t) => {
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: {} }), 400)
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'a@b.c' } }), 400)
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { email: 'x'.repeat(300), password: 'x' } }), 400)
})

t.test('a request a schema refuses is told what is wrong, in French as in English', async (t) => {
  const cases = [
    { payload: { body: 5 }, en: /^body\/body must be string$/, fr: /^La requête n’est pas valide\u00a0: body\/body doit être de type string\.$/ },
    { payload: {}, en: /^body must have required property 'body'$/, fr: /^La requête n’est pas valide\u00a0: body requiert la propriété body\.$/ }
  ]
  for (const { payload, en, fr } of cases) {
    const english = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'accept-language': 'en' }, payload })
    assertError(t, english, 400, 'invalid_request')
    t.match(english.json().error.message, en)
    const french = await app.inject({ method: 'POST', url: postsUrl, headers: { ...customer.auth, 'accept-language': 'fr' }, payload })
    assertError(t, french, 400, 'invalid_request')
    t.match(french.json().error.message, fr, 'the French message names the field too')
  }
  const query = await app.inject({ url: '/api/v1/threads?limit=abc', headers: { 'accept-language': 'fr' } })
  t.match(query.json().error.message, /querystring\/limit doit être de type integer/)
})

t.test('a field no call takes is refused by its name, not left unread: a misspelt promise does not go out as none', async (t) => {
  const before = await countPosts()
  const misspelt = await app.inject({ method: 'POST', url: postsUrl, headers: { ...tech.auth, 'accept-language': 'en' }, payload: { body: 'Power back.', nextUpdate: inFuture(30 * 60_000) } })
  assertError(t, misspelt, 400, 'invalid_request')
  t.equal(misspelt.json().error.message, 'body/nextUpdate is not a field of this request')
  const french = await app.inject({ method: 'POST', url: postsUrl, headers: { ...tech.auth, 'accept-language': 'fr' }, payload: { body: 'Power back.', nextUpdate: inFuture(30 * 60_000) } })
  t.match(french.json().error.message, /^La requête n’est pas valide\u00a0: body\/nextUpdate n’est pas un champ de cette requête\.$/)
  t.equal(await countPosts(), before, 'nothing was posted')
  // A promise is made by posting an update: the thread's own fields do not take one.
  const patched = await app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: tech.auth, payload: { nextUpdateAt: inFuture(30 * 60_000) } })
  assertError(t, patched, 400, 'invalid_request')
  t.match(patched.json().error.message, /body\/nextUpdateAt is not a field of this request/)
  // Every field the contract names is still taken.
  const full = await app.inject({ method: 'POST', url: postsUrl, headers: tech.auth, payload: { body: 'All of it.', kind: 'update', replyTo: null, status: 'monitoring', nextUpdateAt: inFuture(30 * 60_000) } })
  t.equal(full.statusCode, 201)
})

t.test("an API call's Accept-Language comes before the language its account chose on the pages", async (t) => {
  const francophone = await makeUser(app, 'customer')
  await app.db.updateTable('users').set({ locale: 'fr' }).where('id', '=', francophone.actor.id).execute()
  const say = async (headers: Record<string, string>) => {
    const res = await app.inject({ method: 'POST', url: postsUrl, headers: { ...francophone.auth, ...headers }, payload: { body: ' ' } })
    assertError(t, res, 400, 'empty_body')
    return res.json().error.message as string
  }
  t.equal(await say({ 'accept-language': 'en-GB,en;q=0.8' }), 'Write something first.', 'asked in English, told in English')
  t.equal(await say({}), 'Écrivez d’abord quelque chose.', "asking nothing, told in the account's language")
  t.equal(await say({ 'accept-language': 'de' }), 'Écrivez d’abord quelque chose.', 'nor when asking for a language the forum does not speak')
  const page = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'en' }, cookies: await signIn(app, francophone) })
  t.match(page.body, /<html lang="fr">/, 'a page keeps the account\'s choice over the browser\'s')
})

t.test("an API call's ?lang= is for that call: it does not change the account's language", async (t) => {
  const anglophone = await makeUser(app, 'customer')
  await app.db.updateTable('users').set({ locale: 'en' }).where('id', '=', anglophone.actor.id).execute()
  const asked = await app.inject({ method: 'POST', url: `${postsUrl}?lang=fr`, headers: anglophone.auth, payload: { body: ' ' } })
  t.equal(asked.json().error.message, 'Écrivez d’abord quelque chose.', 'told in the language asked for')
  const next = await app.inject({ method: 'POST', url: postsUrl, headers: anglophone.auth, payload: { body: ' ' } })
  t.equal(next.json().error.message, 'Write something first.', "the next call, in the account's language still")
  const { locale } = await app.db.selectFrom('users').select('locale').where('id', '=', anglophone.actor.id).executeTakeFirstOrThrow()
  t.equal(locale, 'en')
})

t.test('a token that is not valid is told so in the language asked for', async (t) => {
  const french = await app.inject({ url: '/api/v1/me', headers: { authorization: 'Bearer nope', 'accept-language': 'fr' } })
  assertError(t, french, 401, 'invalid_token')
  t.equal(french.json().error.message, 'Le jeton d’API n’est pas valide.')
  const english = await app.inject({ url: '/api/v1/me', headers: { authorization: 'Bearer nope' } })
  t.equal(english.json().error.message, 'The API token is not valid.')
})

/** Sends raw bytes and reads the answer until the server closes the connection. */
async function rawRequest (host: string, bytes: string): Promise<{ status: number, headers: string, body: string }> {
  const [hostname, port] = host.split(':')
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  const [head = '', body = ''] = answer.split('\r\n\r\n')
  return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body }
}

t.test('a request the HTTP parser refuses before any route is answered in the contract\'s shape', async (t) => {
  const host = await listen(app)
  const cases = [
    { what: 'a header section over 16 KB', bytes: `GET /api/v1/threads HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'too_large' },
    { what: 'a request line that is no request', bytes: 'GARBAGE\r\n\r\n', status: 400, code: 'invalid_request' },
    { what: 'a length that is no number', bytes: `POST ${postsUrl} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}`, status: 400, code: 'invalid_request' }
  ]
  for (const { what, bytes, status, code } of cases) {
    const answer = await rawRequest(host, bytes)
    t.equal(answer.status, status, `${what}: ${status}`)
    t.match(answer.headers, /content-type: application\/json/, `${what}: JSON`)
    const body = JSON.parse(answer.body) as { error?: { code?: unknown, message?: unknown } }
    t.same(Object.keys(body), ['error'], `${what}: the error alone`)
    t.same(Object.keys(body.error ?? {}).sort(), ['code', 'message'], `${what}: a code and a message`)
    t.equal(body.error?.code, code, `${what}: ${code}`)
    t.match(body.error?.message, /\w+/, `${what}: the message says something`)
  }
})

t.test('a client whose request breaks off is nobody\'s outage: nothing is logged as an error or as the database gone', async (t) => {
  // What the instance logs, as its operator reads it.
  const logged: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logged.push(line) } })
  const { app: watched } = await buildTestApp(t, { logger })
  const host = await listen(watched)
  const [hostname, port] = host.split(':')
  // A phone losing its signal in the middle of a post: the body stops short, the connection goes.
  await new Promise<void>((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST ${postsUrl} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"`)
      setTimeout(() => socket.destroy(), 100)
    })
    socket.on('close', () => resolve())
    socket.on('error', () => {})
  })
  // A chunked body that HTTP cannot read, on a route with a per-address limit.
  const chunked = await rawRequest(host, 'POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n')
  t.equal(chunked.status, 400, 'the unreadable body is a 400')
  // Both reached the app: give its hooks the time to log what they would.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const lines = logged.map((line) => JSON.parse(line) as { level: number, msg: string })
  t.same(lines.filter((line) => line.level >= 50).map((line) => line.msg), [], 'no error logged')
  t.same(lines.filter((line) => line.msg === 'database unavailable'), [], 'and no database said to be unavailable')
})

