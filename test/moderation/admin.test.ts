import t from 'tap'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, openThread, writePost } from '../helpers/api.ts'
import { sectionById, signIn } from '../helpers/pages.ts'

const { app } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const admin = await makeUser(app, 'admin')

const auditOf = async (filter: { targetUserId?: number, action?: string }) => {
  let q = app.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc')
  if (filter.targetUserId !== undefined) q = q.where('target_user_id', '=', filter.targetUserId)
  if (filter.action !== undefined) q = q.where('action', '=', filter.action)
  return await q.execute()
}

t.test('a role change is audited and ends that user\'s sessions', async (t) => {
  const user = await makeUser(app, 'customer')
  const cookies = await signIn(app, user)
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).statusCode, 200, 'signed in')
  const changed = (await act(app, admin, 'PATCH', `/api/v1/users/${user.actor.id}`, { role: 'technician', shift: 'night' })).json()
  t.same([changed.role, changed.shift], ['technician', 'night'])
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).statusCode, 401, 'the old session is gone')
  const [row] = await auditOf({ targetUserId: user.actor.id })
  t.same([row!.action, row!.actor_id, row!.before, row!.after], ['user.role', admin.actor.id, { role: 'customer', shift: null }, { role: 'technician', shift: 'night' }])
  const roleRow = /<tr data-action="user\.role">[\s\S]*?<\/tr>/.exec((await app.inject({ url: `/mod/audit?actorId=${admin.actor.id}`, cookies: await signIn(app, admin) })).body)?.[0]
  t.match(roleRow, new RegExp(`<bdi title="user #${user.actor.id}">${user.actor.name}</bdi>`), 'the page names whose role changed')
  t.match(roleRow, /<ul class="audit-fields"><li><span class="audit-fields__label">Role<\/span>: <span dir="auto">Customer<\/span><\/li><li><span class="audit-fields__label">Shift<\/span>: <span dir="auto">—<\/span><\/li><\/ul>/, 'before, in words')
  t.match(roleRow, /<span dir="auto">Technician<\/span><\/li><li><span class="audit-fields__label">Shift<\/span>: <span dir="auto">Night shift<\/span>/, 'after, in words')

  const shifted = (await act(app, admin, 'PATCH', `/api/v1/users/${user.actor.id}`, { shift: 'day' })).json()
  t.equal(shifted.shift, 'day')
  const [shiftRow] = await auditOf({ targetUserId: user.actor.id })
  t.same([shiftRow!.action, shiftRow!.before, shiftRow!.after], ['user.shift', { role: 'technician', shift: 'night' }, { role: 'technician', shift: 'day' }])

  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/users/${user.actor.id}`, headers: admin.auth, payload: { role: 'wizard' } }), 400, 'invalid_role')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/users/${user.actor.id}`, headers: admin.auth, payload: { role: 'moderator', shift: 'day' } }), 400, 'shift_for_technicians')
  assertError(t, await app.inject({ method: 'PATCH', url: '/api/v1/users/999999', headers: admin.auth, payload: { role: 'customer' } }), 404)
})

t.test('the last admin cannot demote themself', async (t) => {
  const { app } = await buildTestApp(t)
  const only = await makeUser(app, 'admin')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/users/${only.actor.id}`, headers: only.auth, payload: { role: 'moderator' } }), 409, 'last_admin')
  const other = await makeUser(app, 'admin')
  assertStatus(t, await app.inject({ method: 'PATCH', url: `/api/v1/users/${only.actor.id}`, headers: only.auth, payload: { role: 'moderator' } }), 200, 'with another admin, it can')
  assertError(t, await app.inject({ method: 'PATCH', url: `/api/v1/users/${other.actor.id}`, headers: other.auth, payload: { role: 'customer' } }), 409, 'last_admin')
})

t.test('API tokens: listed, created once, revoked by id, audited', async (t) => {
  const user = await makeUser(app, 'technician')
  const created = await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: admin.auth, payload: { userId: user.actor.id } })
  assertStatus(t, created, 201)
  const { id, token } = created.json()
  t.match(token, /^sitrep_/)
  assertStatus(t, await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } }), 200, 'the new token works')
  const listed = (await app.inject({ url: '/api/v1/admin/tokens', headers: admin.auth })).json().tokens
  const entry = listed.find((row: { id: number }) => row.id === id)
  t.same([entry.owner.id, entry.revokedAt], [user.actor.id, null])
  t.notMatch(JSON.stringify(listed), /sitrep_/, 'no token text in the list')
  assertStatus(t, await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${id}`, headers: admin.auth }), 204)
  assertError(t, await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } }), 401, 'invalid_token')
  t.same((await auditOf({ targetUserId: user.actor.id })).map((r) => r.action), ['token.revoke', 'token.create'])
})

t.test('a token says what it is for: in the list, on the page, in the audit; revoking asks to confirm', async (t) => {
  const user = await makeUser(app, 'technician', { name: 'Theo Tokens' })
  const made = await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: admin.auth, payload: { userId: user.actor.id, label: '  Monitoring script  ' } })
  assertStatus(t, made, 201)
  const listed = (await app.inject({ url: '/api/v1/admin/tokens', headers: admin.auth })).json().tokens
  t.equal(listed.find((row: { id: number }) => row.id === made.json().id).label, 'Monitoring script', 'kept trimmed')
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: admin.auth, payload: { userId: user.actor.id, label: 'x'.repeat(101) } }), 400, 'invalid_token_label')
  const emoji = await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: admin.auth, payload: { userId: user.actor.id, label: '🔥'.repeat(100) } })
  assertStatus(t, emoji, 201, 'a hundred characters as people count them, emoji too')
  const twoLines = await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: admin.auth, payload: { userId: user.actor.id, label: 'Pager\n  script' } })
  const labels = (await app.inject({ url: '/api/v1/admin/tokens', headers: admin.auth })).json().tokens.map((row: { id: number, label: string }) => [row.id, row.label])
  t.same(labels.find(([id]: [number]) => id === twoLines.json().id)?.[1], 'Pager script', 'a label is one line')
  const audit = await auditOf({ targetUserId: user.actor.id })
  t.same(audit.find((row) => (row.after as { tokenId?: number } | null)?.tokenId === made.json().id)?.after, { tokenId: made.json().id, label: 'Monitoring script' }, 'the audit says which token')

  const cookies = await signIn(app, admin)
  const page = await app.inject({ url: '/admin/tokens', cookies })
  const row = new RegExp(`<tr data-token-id="${made.json().id}">[\\s\\S]*?</tr>`).exec(page.body)?.[0] ?? ''
  t.match(row, /<td dir="auto">Monitoring script<\/td>\s*<td><bdi>Theo Tokens<\/bdi>/, 'the page names it beside its owner')
  t.match(row, /<details class="token__revoke">\s*<summary>Revoke<\/summary>[\s\S]*stops working at once[\s\S]*<button type="submit"[^>]*>Revoke this token<\/button>/, 'revoking is asked twice, with what it does')
  t.match((await app.inject({ url: '/admin/tokens?lang=fr', cookies })).body, /À quoi il sert[\s\S]*Révoquer ce jeton/)
  await app.inject({ url: '/admin/tokens?lang=en', cookies })

  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  const formKey = /name="idempotencyKey" value="([^"]+)"/.exec(page.body)![1]!
  const fromPage = await app.inject({ method: 'POST', url: '/admin/tokens', cookies, payload: { _csrf: csrf, idempotencyKey: formKey, userId: String(user.actor.id), label: 'Status page' } })
  t.match(fromPage.body, /New token for <bdi>Theo Tokens<\/bdi>, “<bdi>Status page<\/bdi>”\. Copy it now/, 'the new token is named by what it is for')
  const tooLong = await app.inject({ method: 'POST', url: '/admin/tokens', cookies, payload: { _csrf: csrf, idempotencyKey: 'k2', userId: String(user.actor.id), label: 'y'.repeat(101) } })
  t.equal(tooLong.statusCode, 400)
  t.match(tooLong.body, /label is at most 100 characters/)
  t.match(tooLong.body, new RegExp(`<option value="${user.actor.id}" selected>`), 'the refused form keeps its owner')
  t.match(tooLong.body, /value="y{101}"/, 'and its label')
  // No owner chosen (a browser that sends the form without its required choice): the form again, not an error page.
  const noOwner = await app.inject({ method: 'POST', url: '/admin/tokens', cookies, payload: { _csrf: csrf, idempotencyKey: 'k3', userId: '', label: 'Pager' } })
  t.equal(noOwner.statusCode, 404)
  t.match(noOwner.body, /<form[^>]*action="\/admin\/tokens"/, 'the form is shown again')
  t.match(noOwner.body, /role="alert">There is no such user\./, 'saying why')
  t.match(noOwner.body, /value="Pager"/, 'with its label kept')
})

t.test('the admin pages change a role and make a token', async (t) => {
  const user = await makeUser(app, 'customer', { name: 'Zoé Page' })
  const cookies = await signIn(app, admin)
  const page = await app.inject({ url: '/admin/users', cookies })
  t.equal(page.statusCode, 200)
  t.match(page.body, /Zoé Page/)
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  const res = await app.inject({ method: 'POST', url: `/admin/users/${user.actor.id}`, cookies, payload: { _csrf: csrf, role: 'moderator', shift: '' } })
  t.equal(res.statusCode, 303)
  t.equal((await app.inject({ url: '/api/v1/users', headers: admin.auth })).json().users.find((u: { id: number }) => u.id === user.actor.id).role, 'moderator')
  const demote = await app.inject({ method: 'POST', url: `/admin/users/${user.actor.id}`, cookies, payload: { _csrf: csrf, role: 'technician', shift: '' } })
  t.equal(demote.statusCode, 400, 'a technician without a shift is refused on the page')
  t.match(demote.body, /needs a shift/)
  const row = /<tr data-user-id="(\d+)" id="user-\1">[\s\S]*?<\/tr>/g
  const refusedRow = [...demote.body.matchAll(row)].find((m) => m[1] === String(user.actor.id))?.[0] ?? ''
  t.match(refusedRow, /<option value="technician" selected>/, 'the role the admin chose is kept on the row')
  t.match(refusedRow, /<p class="form-error">[^<]*needs a shift/, 'and the reason said next to it')
  t.match(demote.body, new RegExp(`<p class="form-error" role="alert"><a href="#user-${user.actor.id}">`), 'the alert on top leads to the row')

  const tokens = await app.inject({ url: '/admin/tokens', cookies })
  t.equal(tokens.statusCode, 200)
  const formKey = /name="idempotencyKey" value="([^"]+)"/.exec(tokens.body)?.[1]
  t.ok(formKey, 'the form carries its key')
  const create = () => app.inject({ method: 'POST', url: '/admin/tokens', cookies, payload: { _csrf: csrf, idempotencyKey: formKey!, userId: String(user.actor.id) } })
  const made = await create()
  t.equal(made.statusCode, 200)
  const shown = /<code class="token">(sitrep_[\w-]+)<\/code>/.exec(made.body)?.[1]
  t.ok(shown, 'shown once')
  const reloaded = await create()
  t.equal(/<code class="token">(sitrep_[\w-]+)<\/code>/.exec(reloaded.body)?.[1], shown, 'a reload of the answer shows the same token')
  t.equal((await app.db.selectFrom('api_tokens').select('id').where('user_id', '=', user.actor.id).execute()).length, 2, 'and makes no other (the user\'s own, and this one)')
  const id = (await app.db.selectFrom('api_tokens').select('id').where('user_id', '=', user.actor.id).orderBy('id', 'desc').executeTakeFirstOrThrow()).id
  const revoke = await app.inject({ method: 'POST', url: `/admin/tokens/${id}/revoke`, cookies, payload: { _csrf: csrf } })
  t.equal(revoke.statusCode, 303)
  const after = await app.inject({ url: String(revoke.headers.location), cookies })
  t.notMatch(after.body, /sitrep_/, 'never shown again')
  t.match(after.body, new RegExp(`<p class="notice" id="revoked-token" role="status">The token of <bdi>${user.actor.name}</bdi> is revoked: scripts using it are refused from now on\\.</p>`), 'the admin is told it is done, and whose it was')
  t.match(after.body, /<td>\s*revoked <time/, 'and its row says since when')
  t.notMatch((await app.inject({ url: '/admin/tokens', cookies })).body, /id="revoked-token"/, 'said once, not on every visit')
  t.notMatch((await app.inject({ url: `/admin/tokens?revoked=${id - 1}`, cookies })).body, /id="revoked-token"/, 'nor of a token still valid')

  t.match((await app.inject({ url: '/admin/users?lang=fr', cookies })).body, /Utilisateurs et rôles/)
  const modCookies = await signIn(app, moderator)
  t.equal((await app.inject({ url: '/admin/users', cookies: modCookies })).statusCode, 403, 'moderators have no admin pages')
  t.match((await app.inject({ url: '/', cookies: modCookies })).body, /href="\/mod\/flags"/, 'the header links the moderator pages')
  t.notMatch((await app.inject({ url: '/', cookies: modCookies })).body, /href="\/admin\/users"/)
  t.match((await app.inject({ url: '/', cookies })).body, /href="\/admin\/users"/, 'and the admin pages for admins')
})

t.test('the audit log lists every action, newest first, filterable by thread and actor', async (t) => {
  const customer = await makeUser(app, 'customer')
  const thread = await openThread(app, tech)
  const post = await writePost(app, customer, thread.id, { body: 'Hello' })
  await act(app, moderator, 'POST', `/api/v1/posts/${post.id}/hide`, { reason: 'Off topic' })
  await act(app, admin, 'POST', `/api/v1/posts/${post.id}/restore`)
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: true })
  await act(app, moderator, 'PATCH', `/api/v1/threads/${thread.id}`, { locked: false })

  const all = (await app.inject({ url: `/api/v1/audit?threadId=${thread.id}`, headers: moderator.auth })).json().audit
  t.same(all.map((r: { action: string }) => r.action), ['thread.update', 'thread.update', 'post.restore', 'post.hide'], 'newest first')
  const hide = all[3]
  t.same([hide.actor.name, hide.reason, hide.before, hide.after], [moderator.actor.name, 'Off topic', { hidden: false }, { hidden: true }])
  t.same([all[1].before, all[1].after], [{ locked: false }, { locked: true }])
  const byAdmin = (await app.inject({ url: `/api/v1/audit?threadId=${thread.id}&actorId=${admin.actor.id}`, headers: moderator.auth })).json().audit
  t.same(byAdmin.map((r: { action: string }) => r.action), ['post.restore'])

  const cookies = await signIn(app, moderator)
  const page = await app.inject({ url: `/mod/audit?threadId=${thread.id}&actorId=${admin.actor.id}`, cookies })
  t.equal(page.statusCode, 200)
  t.match(page.body, /post\.restore/)
  t.notMatch(page.body, /post\.hide/, 'filtered')
  const by = sectionById(page.body, 'audit-actor')
  t.match(by, /<option value="">Anyone<\/option>/, 'the filter is a choice of people, anyone by default')
  t.match(by, new RegExp(`<option value="${admin.actor.id}" selected>${admin.actor.name} \\(Administrator\\)</option>`), 'by name and role, the one filtered by chosen')
  t.match(by, new RegExp(`<option value="${moderator.actor.id}">${moderator.actor.name} \\(Moderator\\)</option>`), 'every member of staff')
  t.notMatch(by, new RegExp(`value="${customer.actor.id}"`), 'no customer')
  const byCustomer = sectionById((await app.inject({ url: `/mod/audit?actorId=${customer.actor.id}`, cookies })).body, 'audit-actor')
  t.match(byCustomer, new RegExp(`<option value="${customer.actor.id}" selected>`), 'unless the log is filtered by them (their name is a link in it)')
  t.match(sectionById((await app.inject({ url: '/mod/audit?actorId=999999', cookies })).body, 'audit-actor'), /<option value="999999" selected>user #999999<\/option>/, 'a filter by nobody known says whom, not "Anyone"')
  // Two of the staff with one name: told apart.
  const twin = await makeUser(app, 'moderator', { name: moderator.actor.name })
  const twins = sectionById((await app.inject({ url: '/mod/audit', cookies })).body, 'audit-actor')
  t.match(twins, new RegExp(`<option value="${moderator.actor.id}">${moderator.actor.name} \\(Moderator, user #${moderator.actor.id}\\)</option>`), 'by their number')
  t.match(twins, new RegExp(`<option value="${twin.actor.id}">${twin.actor.name} \\(Moderator, user #${twin.actor.id}\\)</option>`))
  t.match(twins, new RegExp(`<option value="${admin.actor.id}">${admin.actor.name} \\(Administrator\\)</option>`), 'a name nobody else has, alone')
  t.match((await app.inject({ url: `/mod/audit?threadId=${thread.id}&lang=fr`, cookies })).body, /Journal d’audit/)
  const hideRow = /<tr data-action="post\.hide">[\s\S]*?<\/tr>/.exec((await app.inject({ url: `/mod/audit?threadId=${thread.id}&lang=en`, cookies })).body)?.[0]
  t.match(hideRow, /<td>Off topic<\/td>/, 'the page shows the reason given')
  t.match(hideRow, /<td title="post\.hide">Post hidden<\/td>/, 'and what was done, in words')
  t.match(hideRow, /<span class="audit-fields__label">Hidden<\/span>: <span dir="auto">no<\/span>/, 'before and after in words, not JSON')
  t.notMatch(hideRow, /\{&quot;|\{"/, 'no JSON left')
  const french = await app.inject({ url: `/mod/audit?threadId=${thread.id}&lang=fr`, cookies })
  t.match(french.body, /<td title="thread\.update">Réglages du fil modifiés<\/td>/, 'in the reader\'s language')
  t.match(french.body, /<span class="audit-fields__label">Verrouillé<\/span>\u00a0: <span dir="auto">oui<\/span>/, 'the fields too')
})

t.test('every action the audit log records has words in both languages', async (t) => {
  const { translate, hasMessage } = await import('../../src/web/i18n.ts')
  const { readFileSync, readdirSync } = await import('node:fs')
  const sources = [...readdirSync('src/domain').map((name) => `src/domain/${name}`), 'src/cli.ts'].map((file) => readFileSync(file, 'utf8')).join('\n')
  const actions = new Set([...sources.matchAll(/'((?:flags|post|shifts|thread|token|user)\.[a-z]+)'/g)].map((m) => m[1]!))
  const recorded = [...actions].filter((action) => new RegExp(`action: [^\\n]*'${action.replace('.', '\\.')}'`).test(sources))
  t.ok(recorded.length >= 15, `the actions found: ${recorded.join(', ')}`)
  for (const action of recorded) {
    t.ok(hasMessage(`audit.action.${action}`), `${action} has words`)
    t.not(translate('fr', `audit.action.${action}`), translate('en', `audit.action.${action}`), `${action} in French`)
  }
  // And every field its rows say was changed: "Flags: 3", not "flags: 3".
  const fields = new Set([...sources.matchAll(/(?:before|after): \{([^\n]*)/g)].flatMap((m) => [...m[1]!.matchAll(/(\w+): /g)].map((k) => k[1]!)))
  for (const field of ['before', 'after']) fields.delete(field)
  t.ok(fields.size >= 10, `the fields found: ${[...fields].join(', ')}`)
  for (const field of fields) {
    t.ok(hasMessage(`audit.field.${field}`), `${field} has words`)
    t.not(translate('fr', `audit.field.${field}`), translate('en', `audit.field.${field}`), `${field} in French`)
  }
})

t.test('a technician made a customer is on duty no more, and no longer leads', async (t) => {
  const lead = await makeUser(app, 'technician', { name: 'Ava Lead' })
  const other = await makeUser(app, 'technician', { name: 'Ben Second' })
  await act(app, lead, 'POST', '/api/v1/duty/check-in', { lead: true })
  await act(app, other, 'POST', '/api/v1/duty/check-in')
  await act(app, admin, 'PATCH', `/api/v1/users/${lead.actor.id}`, { role: 'customer' })
  const duty = (await app.inject({ url: '/api/v1/duty' })).json()
  t.notOk(duty.onDuty.some((person: { userId: number }) => person.userId === lead.actor.id), 'no longer listed on duty')
  t.equal(duty.lead?.userId, other.actor.id, 'the lead passes to whoever is still on duty')
  t.notMatch((await app.inject({ url: '/' })).body, /Ava Lead/, 'and the pages no longer name them')
  await act(app, other, 'POST', '/api/v1/duty/check-out')
})

t.test('the audit page leads to older entries, page after page, keeping its filter', async (t) => {
  const thread = await openThread(app, tech)
  const posts = []
  for (let i = 0; i < 3; i++) posts.push(await writePost(app, tech, thread.id, { body: `Update ${i}` }))
  // More actions on this thread than one page of the log holds.
  for (let i = 0; i < 105; i++) {
    await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: posts[i % 2]!.id })
  }
  const cookies = await signIn(app, moderator)
  // In English whatever this moderator chose before.
  await app.inject({ url: '/?lang=en', cookies })
  const shown = (html: string) => [...html.matchAll(/<tr data-action="([^"]+)">/g)].length
  const first = await app.inject({ url: `/mod/audit?threadId=${thread.id}`, cookies })
  t.equal(shown(first.body), 105, 'fewer than a page: all of them, no link')
  t.notMatch(first.body, /Older entries/)
  for (let i = 105; i < 205; i++) await act(app, moderator, 'PUT', `/api/v1/threads/${thread.id}/pin`, { postId: posts[i % 2]!.id })
  const full = await app.inject({ url: `/mod/audit?threadId=${thread.id}`, cookies })
  t.equal(shown(full.body), 200, 'a full page')
  const older = /<a href="([^"]+)" rel="next">Older entries<\/a>/.exec(full.body)?.[1]?.replaceAll('&amp;', '&')
  t.match(older, new RegExp(`^/mod/audit\\?threadId=${thread.id}&before=\\d+$`), 'a link to the older entries, with the same filter')
  const next = await app.inject({ url: older!, cookies })
  t.equal(shown(next.body), 5, 'the five older ones')
  t.match((await app.inject({ url: `/mod/audit?threadId=${thread.id}&lang=fr`, cookies })).body, /rel="next">Entrées plus anciennes</, 'in French too')
  await app.inject({ url: '/?lang=en', cookies })
})

t.test('with thousands of customers, the users\' page lists the staff and the newest customers, and finds the others', async (t) => {
  const { app } = await buildTestApp(t)
  const admin = await makeUser(app, 'admin', { name: 'Ada Admin' })
  const tech = await makeUser(app, 'technician', { name: 'Tess Tech' })
  const hash = (await app.db.selectFrom('users').select('password_hash').where('id', '=', tech.actor.id).executeTakeFirstOrThrow()).password_hash
  await app.db.insertInto('users').values(Array.from({ length: 1200 }, (_, i) => ({
    email: `customer${i}@example.org`, name: `Customer ${i}`, role: 'customer' as const, shift: null, password_hash: hash, locale: null, created_at: new Date()
  }))).execute()
  const newhire = await makeUser(app, 'customer', { name: 'Nina Newhire', email: 'nina@example.org' })
  const cookies = await signIn(app, admin)
  const rows = (html: string) => [...html.matchAll(/<tr data-user-id="(\d+)"/g)].map((m) => Number(m[1]))

  const page = await app.inject({ url: '/admin/users', cookies })
  const listed = rows(page.body)
  t.same(listed.slice(0, 2), [admin.actor.id, tech.actor.id], 'the staff first')
  t.equal(listed[2], newhire.actor.id, 'then the newest customer: a colleague who just registered')
  t.equal(listed.length, 2 + 100, 'and a hundred customers, not all of them')
  t.match(page.body, /Every staff member is listed, and the 100 newest customers: search to find the others\./)

  const found = await app.inject({ url: '/admin/users?q=customer7', cookies })
  const foundRows = rows(found.body)
  t.equal(foundRows.length, 2 + 100, 'a search finds customers by e-mail (customer7, customer70..., customer7xx: 111 of them)')
  t.match(found.body, /value="customer7"/, 'the search stays in its field')
  const one = rows((await app.inject({ url: `/admin/users?q=${encodeURIComponent('NINA newhire')}`, cookies })).body)
  t.same(one, [admin.actor.id, tech.actor.id, newhire.actor.id], 'or by name, whatever the case')
  t.same(rows((await app.inject({ url: '/admin/users?q=%25', cookies })).body), [admin.actor.id, tech.actor.id], 'a % is a character sought, not a wildcard')
  const nul = await app.inject({ url: '/admin/users?q=%00', cookies })
  t.equal(nul.statusCode, 200, 'a search for a character no name holds (U+0000) is no error')
  t.same(rows(nul.body), [admin.actor.id, tech.actor.id], 'and finds no customer')

  const csrf = /name="_csrf" value="([^"]+)"/.exec(found.body)![1]!
  const promoted = await app.inject({ method: 'POST', url: `/admin/users/${newhire.actor.id}`, cookies, payload: { _csrf: csrf, role: 'technician', shift: 'night', q: 'nina' } })
  t.equal(promoted.headers.location, `/admin/users?q=nina&changed=${newhire.actor.id}#user-${newhire.actor.id}`, 'back to the list as it was searched, at the row')
  const saved = (await app.inject({ url: promoted.headers.location as string, cookies })).body
  t.match(saved, new RegExp(`role="status"><a href="#user-${newhire.actor.id}">Saved\\. <bdi>Nina Newhire</bdi>: Technician, Night shift\\.</a>`), 'and says what was saved')
  t.notMatch((await app.inject({ url: '/admin/users?q=nina', cookies })).body, /Saved\./, 'not on the list reached otherwise')
  // In French by this browser's choice (its cookie), the account's language left as it is.
  t.match((await app.inject({ url: `/admin/users?changed=${newhire.actor.id}`, cookies: { ...cookies, sitrep_lang: 'fr' } })).body, /Enregistré\. <bdi>Nina Newhire<\/bdi>\u00a0: Technicien, Équipe de nuit\./)
  const tokens = await app.inject({ url: '/admin/tokens', cookies })
  t.match(tokens.body, /<option value="">Choose a staff member…<\/option>/, 'a token\'s owner is chosen, not the first of a list')
  t.match(tokens.body, new RegExp(`<option value="${newhire.actor.id}">\u2068Nina Newhire\u2069`), 'among the staff, the new technician too')
  t.notMatch(tokens.body, /Customer 1\b/, 'and no customer')
  t.match((await app.inject({ url: '/admin/users?lang=fr', cookies })).body, /Trouver un client par son nom ou son e-mail/)
})

t.test('a thread patch that changes nothing is no event and no line of the audit', async (t) => {
  const thread = await openThread(app, tech)
  const lock = () => app.inject({ method: 'PATCH', url: `/api/v1/threads/${thread.id}`, headers: moderator.auth, payload: { locked: true, title: thread.title } })
  assertStatus(t, await lock(), 200)
  const logged = (await auditOf({ action: 'thread.update' })).length
  const seq = (await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().lastSeq
  const again = await lock()
  assertStatus(t, again, 200)
  t.equal(again.json().locked, true, 'the answer is the thread as it is')
  t.equal((await auditOf({ action: 'thread.update' })).length, logged, 'sent again, nothing more in the audit')
  t.equal((await app.inject({ url: `/api/v1/threads/${thread.id}` })).json().lastSeq, seq, 'nor on the live stream')
})
