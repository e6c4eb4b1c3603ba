import { sql } from 'kysely'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Post, Thread } from '../../src/domain/views.ts'
import { buildSecondInstance, buildTestApp, makeUser } from '../helpers/app.ts'
import { type Cookies, apiAs, signIn, submitForm } from '../helpers/pages.ts'
import { waitUntil } from '../helpers/server.ts'

// A signed-in reader's reloads do not each ask the database who they are: an
// instance keeps the sessions it has checked. What must not be kept is a
// session that has ended, or a user who has changed, on any instance.

const first = await buildTestApp(t)
const second = await buildSecondInstance(t, first)
const { app } = first
const tech = await makeUser(app, 'technician')
const admin = await makeUser(app, 'admin')
const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Campus network down', body: 'Core router lost.' })
const post = await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Spare router on its way.' })

/** Whose name the page's header says is signed in; undefined when nobody is. */
const signedInAs = async (instance: FastifyInstance, cookies: Cookies) => {
  const res = await instance.inject({ url: `/t/${thread.id}`, cookies })
  t.equal(res.statusCode, 200)
  return /class="site-nav__user"><bdi>([^<]+)<\/bdi> </.exec(res.body)?.[1]
}
/** A comment sent with the session cookie, as the page's script sends it. */
const comment = async (instance: FastifyInstance, cookies: Cookies, body: string) => {
  const { token } = (await instance.inject({ url: '/api/v1/csrf', cookies })).json()
  return await instance.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, cookies, headers: { 'x-csrf-token': token }, payload: { body } })
}

t.test('signed out on one instance: refused at once for anything that changes something, and signed out on the pages of every instance', async (t) => {
  const customer = await makeUser(app, 'customer', { name: 'Chloe Bernard' })
  const cookies = await signIn(app, customer)
  t.equal((await comment(second, cookies, 'Same here, building C.')).statusCode, 201)
  t.equal(await signedInAs(app, cookies), 'Chloe Bernard')
  t.equal(await signedInAs(second, cookies), 'Chloe Bernard', 'the other instance knows her')

  t.equal((await submitForm(app, cookies, '/', '/logout', {})).statusCode, 303)
  t.equal((await comment(app, cookies, 'Posted after signing out?')).statusCode, 401, 'the ended session posts nothing')
  // The app's clock stands still: only the database's announcement can end what the other instance kept.
  await waitUntil('the other instance to see the sign-out', async () => await signedInAs(second, cookies) === undefined)
  t.equal((await comment(second, cookies, 'Or from the other instance?')).statusCode, 401, 'nor anywhere else')
  t.equal(await signedInAs(app, cookies), undefined)
})

t.test("a moderator demoted loses the role's powers at once, and the other instance's pages show it", async (t) => {
  const moderator = await makeUser(app, 'moderator', { name: 'Marc Petit' })
  const cookies = await signIn(second, moderator)
  t.equal(await signedInAs(second, cookies), 'Marc Petit')
  t.equal(await signedInAs(app, cookies), 'Marc Petit')

  await apiAs(app, admin, 'PATCH', `/users/${moderator.actor.id}`, { role: 'customer' })
  const { token } = (await app.inject({ url: '/api/v1/csrf', cookies })).json()
  const hide = await app.inject({ method: 'POST', url: `/api/v1/posts/${post.id}/hide`, cookies, headers: { 'x-csrf-token': token }, payload: { reason: 'test' } })
  t.equal(hide.statusCode, 401, 'a role change ends the sessions: the hide is refused')
  const { posts } = await apiAs<{ posts: Post[] }>(app, tech, 'GET', `/threads/${thread.id}/posts`)
  t.equal(posts.find((p) => p.id === post.id)?.hidden, false, 'the post stays')
  await waitUntil('the demoted moderator to be signed out on the other instance', async () => await signedInAs(second, cookies) === undefined)
})

t.test('a change made in the database by hand shows on every instance', async (t) => {
  const customer = await makeUser(app, 'customer', { name: 'Paul Girard' })
  const cookies = await signIn(app, customer)
  t.equal(await signedInAs(app, cookies), 'Paul Girard')
  t.equal(await signedInAs(second, cookies), 'Paul Girard')
  await app.db.updateTable('users').set({ name: 'Paul Girard-Roux' }).where('id', '=', customer.actor.id).execute()
  await waitUntil('the new name on both instances', async () =>
    await signedInAs(app, cookies) === 'Paul Girard-Roux' && await signedInAs(second, cookies) === 'Paul Girard-Roux')

  await app.db.deleteFrom('sessions').where('user_id', '=', customer.actor.id).execute()
  await waitUntil('the deleted session to end on both instances', async () =>
    await signedInAs(app, cookies) === undefined && await signedInAs(second, cookies) === undefined)
})

t.test("a script's API token revoked on one instance, by an admin or by hand, is refused at once on every instance", async (t) => {
  const script = await makeUser(app, 'technician', { name: 'Status Bot' })
  const me = (instance: FastifyInstance, user = script) => instance.inject({ url: '/api/v1/me', headers: user.auth })
  t.equal((await me(second)).statusCode, 200, 'the script reads through the other instance')
  t.equal((await me(app)).statusCode, 200)
  const [kept] = (await apiAs<{ tokens: Array<{ id: number, owner: { id: number } }> }>(app, admin, 'GET', '/admin/tokens')).tokens.filter((token) => token.owner.id === script.actor.id)
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${kept!.id}`, headers: admin.auth })).statusCode, 204)
  t.equal((await me(app)).statusCode, 401, 'refused on the instance that revoked it')
  // The app's clock stands still: only the database's announcement can end what the other instance kept.
  await waitUntil('the other instance to refuse the revoked token', async () => (await me(second)).statusCode === 401)
  const write = await second.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/posts`, headers: script.auth, payload: { body: 'Still here?' } })
  t.equal(write.statusCode, 401, 'and it writes nothing anywhere')

  const other = await makeUser(app, 'technician', { name: 'Graph Bot' })
  t.equal((await me(second, other)).statusCode, 200)
  await app.db.updateTable('api_tokens').set({ revoked_at: new Date() }).where('user_id', '=', other.actor.id).execute()
  await waitUntil('a token revoked by hand in SQL to be refused on both instances', async () =>
    (await me(app, other)).statusCode === 401 && (await me(second, other)).statusCode === 401)
})

// The embedded database is one process, whose announcements cannot be lost;
// a server's come over a connection that can be.
if (app.database.kind === 'server') {
  t.test('while an instance cannot hear the announcements, it asks the database who every reader is', async (t) => {
    const lea = await makeUser(app, 'customer', { name: 'Lea Moreau' })
    const leasCookies = await signIn(app, lea)
    const noah = await makeUser(app, 'customer', { name: 'Noah Roux' })
    const noahsCookies = await signIn(app, noah)
    t.equal(await signedInAs(app, leasCookies), 'Lea Moreau')
    t.equal(await signedInAs(app, noahsCookies), 'Noah Roux')
    // No announcement at all from here on, lost or not.
    await sql`alter table users disable trigger users_notify_auth`.execute(app.db)
    t.teardown(() => sql`alter table users enable trigger users_notify_auth`.execute(app.db))
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%'`.execute(app.db)
    await waitUntil('the instance to notice its listening connection is gone', () => !app.notifications.listening)

    await app.db.updateTable('users').set({ name: 'Lea Moreau-Blanc' }).where('id', '=', lea.actor.id).execute()
    t.equal(await signedInAs(app, leasCookies), 'Lea Moreau-Blanc', 'a change nothing announced shows while it cannot hear')
    await app.db.updateTable('users').set({ name: 'Noah Roux-Petit' }).where('id', '=', noah.actor.id).execute()
    await waitUntil('the instance to listen again', () => app.notifications.listening)
    t.equal(await signedInAs(app, noahsCookies), 'Noah Roux-Petit', 'and after it listens again: nothing is kept from before')
  })
}
