import t from 'tap'
import type { Post } from '../../src/domain/views.ts'
import { buildTestApp, csrfFieldOf, makeUser, type TestUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, openThread, readPosts, writePost } from '../helpers/api.ts'
import { signIn } from '../helpers/pages.ts'

const { app, advance } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const admin = await makeUser(app, 'admin')
const author = await makeUser(app, 'customer')
const reader = await makeUser(app, 'customer')

const seenBy = async (viewer: TestUser | null, threadId: number, postId: number): Promise<Post> => {
  const post = (await readPosts(app, threadId, viewer)).find((p) => p.id === postId)
  if (post === undefined) throw new Error(`post ${postId} is missing from its thread`)
  return post
}

t.test('a hidden post keeps its place but not its text for readers', async (t) => {
  const thread = await openThread(app, tech)
  const before = await writePost(app, author, thread.id, { body: 'Before' })
  const rude = await writePost(app, author, thread.id, { body: 'Something **rude**' })
  const after = await writePost(app, reader, thread.id, { body: 'After' })
  const hidden = await act(app, moderator, 'POST', `/api/v1/posts/${rude.id}/hide`, { reason: 'Insulting' })
  t.equal(hidden.json().hidden, true)
  t.equal(hidden.json().body, 'Something **rude**', 'the moderator who hid it still sees it')

  for (const [who, viewer] of [['anonymous', null], ['a customer', reader], ['its author', author], ['a technician', tech]] as const) {
    const posts = await readPosts(app, thread.id, viewer)
    t.same(posts.map((p) => p.id).slice(1), [before.id, rude.id, after.id], `${who}: the post keeps its place`)
    const post = posts.find((p) => p.id === rude.id)!
    t.equal(post.hidden, true, `${who}: marked hidden`)
    t.equal(post.hiddenReason, 'Insulting', `${who}: with the reason`)
    t.notOk('body' in post, `${who}: no body`)
    t.notOk('html' in post, `${who}: no html`)
    t.notMatch(JSON.stringify(post), /rude/, `${who}: the text is nowhere in the answer`)
    const one = await app.inject({ url: `/api/v1/posts/${rude.id}`, headers: viewer === null ? {} : viewer.auth })
    assertStatus(t, one, 200)
    t.notMatch(one.body, /rude/, `${who}: not in GET /posts/:id either`)
  }

  for (const viewer of [moderator, admin]) {
    const post = await seenBy(viewer, thread.id, rude.id)
    t.equal(post.hidden, true)
    t.equal(post.body, 'Something **rude**', `${viewer.actor.role} still sees the body`)
    t.equal(post.html, '<p>Something <strong>rude</strong></p>')
  }
})

t.test('a hidden post is edited by moderators only: its author no longer reads it', async (t) => {
  const thread = await openThread(app, tech)
  const rude = await writePost(app, author, thread.id, { body: 'Something rude' })
  await act(app, moderator, 'POST', `/api/v1/posts/${rude.id}/hide`, { reason: 'Insulting' })
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${rude.id}`, headers: author.auth, payload: { body: 'Something else' } }), 403, 'edit_hidden')
  const cookies = await signIn(app, author)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.notMatch(page, new RegExp(`href="/posts/${rude.id}/edit"`), 'no Edit link on the page')
  const form = await app.inject({ url: `/posts/${rude.id}/edit`, cookies })
  t.equal(form.statusCode, 403, 'nor an empty edit form')
  t.match(form.body, /This post is hidden: only a moderator may edit it\./)
  const edited = await act(app, moderator, 'PATCH', `/api/v1/posts/${rude.id}`, { body: 'Something [removed]' })
  t.equal(edited.json().body, 'Something [removed]', 'a moderator still may')
})

t.test('restore brings the text back', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Misjudged' })
  await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/hide`, { reason: 'Looked like spam' })
  t.notOk('body' in await seenBy(null, thread.id, post.id))
  const restored = await act(app, admin, 'POST', `/api/v1/posts/${post.id}/restore`)
  t.equal(restored.json().hidden, false)
  const seen = await seenBy(null, thread.id, post.id)
  t.same([seen.hidden, seen.hiddenReason, seen.body, seen.html], [false, null, 'Misjudged', '<p>Misjudged</p>'])
})

t.test('hiding needs a reason', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Hmm' })
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/hide`, headers: moderator.auth, payload: { reason: '   ' } }), 400, 'invalid_reason')
  t.equal((await seenBy(null, thread.id, post.id)).hidden, false, 'still visible')
})

t.test('a post already hidden keeps its reason: a second moderator hiding it is told, by the API and on the page', async (t) => {
  const second = await makeUser(app, 'moderator')
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'Call this number for a refund' })
  const page = `/t/${thread.id}`
  // The second moderator opened the thread while the post was still shown.
  const cookies = await signIn(app, second)
  const opened = await app.inject({ url: page, cookies })
  await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/hide`, { reason: 'Scam' })

  const again = await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/hide`, headers: second.auth, payload: { reason: 'Spam' } })
  assertError(t, again, 409, 'already_hidden')
  t.equal((await seenBy(null, thread.id, post.id)).hiddenReason, 'Scam', 'the first reason stands')
  const same = await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/hide`, { reason: 'Scam' })
  t.equal(same.json().hiddenReason, 'Scam', 'the same hide sent again answers the post as it is')

  const form = await app.inject({ method: 'POST', url: `/posts/${post.id}/hide`, cookies, payload: { _csrf: csrfFieldOf(opened.body), reason: 'Spam' } })
  t.equal(form.statusCode, 409)
  t.match(form.body, /This post is already hidden, and the reason shown on it stays\. To hide it with your own reason, restore it first\./, 'the page says why nothing changed')
  t.match(form.body, /Hidden by a moderator: .*Scam/, 'and shows the reason that stands')
  const french = await app.inject({ method: 'POST', url: `/posts/${post.id}/hide`, cookies: { ...cookies, sitrep_lang: 'fr' }, payload: { _csrf: csrfFieldOf(opened.body), reason: 'Spam' } })
  t.match(french.body, /Ce message est déjà masqué/, 'in French too')
  t.equal((await seenBy(null, thread.id, post.id)).hiddenReason, 'Scam')

  // A moderator's reason that reads as the flags' own is still a moderator's: it stands too.
  const worded = await writePost(app, author, thread.id, { body: 'Odd claim' })
  await act(app, moderator, 'POST', `/api/v1/posts/${worded.id}/hide`, { reason: 'pending review' })
  assertError(t, await app.inject({ method: 'POST', url: `/api/v1/posts/${worded.id}/hide`, headers: second.auth, payload: { reason: 'Spam' } }), 409, 'already_hidden')
})

t.test('a hidden post cannot be pinned', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, tech, thread.id, { body: 'Wrong figures' })
  await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/hide`, { reason: 'Wrong figures' })
  assertError(t, await app.inject({ method: 'PUT', url: `/api/v1/threads/${thread.id}/pin`, headers: moderator.auth, payload: { postId: post.id } }), 400, 'post_hidden')
})

t.test('an edit keeps the earlier text as a revision and sets editedAt', async (t) => {
  const thread = await openThread(app, tech)
  const post = await writePost(app, author, thread.id, { body: 'The printer is brokne' })
  t.equal(post.editedAt, null, 'a new post is not edited')
  advance(60_000)
  const edited = (await act(app, author, 'PATCH', `/api/v1/posts/${post.id}`, { body: 'The printer is broken' })).json()
  t.equal(edited.body, 'The printer is broken')
  t.equal(edited.html, '<p>The printer is broken</p>', 'the html follows the new text')
  t.ok(edited.editedAt, 'editedAt is set')
  t.ok(Date.parse(edited.editedAt) >= Date.parse(post.createdAt) + 60_000, 'editedAt is the time of the edit')
  t.equal(edited.createdAt, post.createdAt, 'createdAt does not move')

  const seen = await seenBy(null, thread.id, post.id)
  t.same([seen.body, seen.editedAt], ['The printer is broken', edited.editedAt], 'readers see the new text, marked edited')

  await act(app, moderator, 'PATCH', `/api/v1/posts/${post.id}`, { body: 'The printer on floor 2 is broken' })
  const revisions = await app.inject({ url: `/api/v1/posts/${post.id}/revisions`, headers: moderator.auth })
  assertStatus(t, revisions, 200)
  const list = revisions.json().revisions as { body: string, html: string, editedBy: number }[]
  t.same(list.map((r) => r.body), ['The printer is brokne', 'The printer is broken'], 'every earlier text, oldest first')
  t.same(list.map((r) => r.editedBy), [author.actor.id, moderator.actor.id], 'with who replaced it')
  t.equal(list[0]?.html, '<p>The printer is brokne</p>')

  const unchanged = (await act(app, author, 'PATCH', `/api/v1/posts/${post.id}`, { body: 'The printer on floor 2 is broken' })).json()
  t.equal(unchanged.body, 'The printer on floor 2 is broken')
  const again = (await app.inject({ url: `/api/v1/posts/${post.id}/revisions`, headers: admin.auth })).json().revisions
  t.equal(again.length, 2, 'saving the same text adds no revision')

  assertError(t, await app.inject({ url: `/api/v1/posts/${post.id}/revisions`, headers: author.auth }), 403)
})

t.test('in a locked thread a customer cannot edit, staff can', async (t) => {
  const thread = await openThread(app, tech)
  const comment = await writePost(app, author, thread.id, { body: 'Typo here' })
  const update = await writePost(app, tech, thread.id, { body: 'Typo tehre' })
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: true })
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/posts/${comment.id}`, headers: author.auth, payload: { body: 'Fixed' } }), 403, 'thread_locked')
  t.equal((await seenBy(null, thread.id, comment.id)).body, 'Typo here', 'the comment is unchanged')
  const fixed = await act(app, tech, 'PATCH', `/api/v1/posts/${update.id}`, { body: 'Typo there' })
  t.equal(fixed.json().body, 'Typo there')
})
