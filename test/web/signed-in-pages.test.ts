import t from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildTestApp, csrfFieldOf, makeUser } from '../helpers/app.ts'
import { apiAs, signIn } from '../helpers/pages.ts'

// A thread's posts are rendered once and shared by everyone who sees them the
// same way; what differs from one signed-in reader to the next must still differ.

const { app } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const alice = await makeUser(app, 'customer', { name: 'Alice' })
const bob = await makeUser(app, 'customer', { name: 'Bob' })
const carol = await makeUser(app, 'customer', { name: 'Carol' })
const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'VPN down', body: 'The VPN concentrator is down.' })
const fromAlice = await apiAs<Post>(app, alice, 'POST', `/threads/${thread.id}/posts`, { body: 'Alice here: no VPN since 9:00.' })
const fromBob = await apiAs<Post>(app, bob, 'POST', `/threads/${thread.id}/posts`, { body: 'Bob here: same for us.' })
const sessions = {
  alice: await signIn(app, alice),
  bob: await signIn(app, bob),
  carol: await signIn(app, carol),
  moderator: await signIn(app, moderator)
}
const pageFor = async (who: keyof typeof sessions) => {
  const res = await app.inject({ url: `/t/${thread.id}`, cookies: sessions[who] })
  t.equal(res.statusCode, 200)
  return res.body
}
const editLink = (post: Post) => `href="/posts/${post.id}/edit"`
const flagForm = (post: Post) => `action="/posts/${post.id}/flag"`

t.test('each customer may edit their own post and flag the others\', whoever looked first', async (t) => {
  // Carol first, so a list shared by everyone is in memory before the authors look.
  for (const who of ['carol', 'alice', 'bob', 'carol'] as const) {
    const page = await pageFor(who)
    t.equal(page.includes(editLink(fromAlice)), who === 'alice', `${who}: an edit link on Alice's post only for Alice`)
    t.equal(page.includes(editLink(fromBob)), who === 'bob', `${who}: an edit link on Bob's post only for Bob`)
    t.equal(page.includes(flagForm(fromAlice)), who !== 'alice', `${who}: a flag form on Alice's post for everyone but Alice`)
    t.equal(page.includes(flagForm(fromBob)), who !== 'bob', `${who}: a flag form on Bob's post for everyone but Bob`)
  }
})

t.test("the forms in the posts carry each reader's own CSRF token, and it works", async (t) => {
  const carols = await pageFor('carol')
  const alices = await pageFor('alice')
  const tokenIn = (page: string, post: Post) => {
    const form = page.slice(page.indexOf(flagForm(post)))
    return csrfFieldOf(form)
  }
  t.not(tokenIn(carols, fromBob), tokenIn(alices, fromBob), 'not one token shared by all')
  const flag = await app.inject({
    method: 'POST',
    url: `/posts/${fromBob.id}/flag`,
    cookies: sessions.carol,
    payload: { _csrf: tokenIn(carols, fromBob), reason: 'spam' }
  })
  t.equal(flag.statusCode, 303, 'Carol flags Bob\'s post from her page')
})

t.test('a hidden post: its text for moderators only, at once for everyone', async (t) => {
  t.match(await pageFor('carol'), /Bob here: same for us\./, 'Carol saw it before')
  await apiAs(app, moderator, 'POST', `/posts/${fromBob.id}/hide`, { reason: 'Off topic' })
  const carols = await pageFor('carol')
  t.notMatch(carols, /Bob here: same for us\./, 'gone from Carol\'s page at once')
  t.match(carols, /Off topic/, 'which says why')
  t.match(await pageFor('moderator'), /Bob here: same for us\./, 'a moderator still reads it')
  t.notMatch(await pageFor('bob'), /Bob here: same for us\./, 'and its author does not')
})

t.test('a new update reaches signed-in readers at once', async (t) => {
  await pageFor('carol')
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Failover to the spare concentrator done.' })
  t.match(await pageFor('carol'), /Failover to the spare concentrator done\./)
  t.match(await pageFor('alice'), /Failover to the spare concentrator done\./)
})

t.test('text beyond ASCII comes through whole, in French, around every reader\'s token', async (t) => {
  const text = 'Coupure électrique à 9 h ; l’onduleur tient… 🔥 日本語 — ça repart.'
  const post = await apiAs<Post>(app, alice, 'POST', `/threads/${thread.id}/posts`, { body: text })
  for (const who of ['carol', 'moderator'] as const) {
    const res = await app.inject({ url: `/t/${thread.id}?lang=fr`, cookies: sessions[who] })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /charset=utf-8/)
    t.ok(res.body.includes(text), `${who}: the post reads as it was written`)
    t.match(res.body, /<html lang="fr">/, `${who}: the page is in French`)
    const form = res.body.slice(res.body.indexOf(flagForm(post)))
    const flag = await app.inject({ method: 'POST', url: `/posts/${post.id}/flag`, cookies: sessions[who], payload: { _csrf: csrfFieldOf(form), reason: 'rumour' } })
    t.equal(flag.statusCode, 303, `${who}: the token in the post's form, after the text, works`)
  }
  const anonymous = await app.inject({ url: `/t/${thread.id}`, headers: { 'accept-language': 'fr' } })
  t.ok(anonymous.body.includes(text), 'and for anonymous readers, from the cache')
})
