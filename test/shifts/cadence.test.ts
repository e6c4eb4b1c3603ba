import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError, inFuture, openThread, readThread, writePost } from '../helpers/api.ts'
import { sectionById, signIn, submitForm } from '../helpers/pages.ts'

let clock = Date.parse('2026-03-02T10:00:00Z')
const { app } = await buildTestApp(t, { now: () => new Date(clock) })
const technician = await makeUser(app, 'technician')
const moderator = await makeUser(app, 'moderator')
const customer = await makeUser(app, 'customer')

const patch = (auth: Record<string, string>, id: number, payload: Record<string, unknown>) =>
  app.inject({ method: 'PATCH', url: `/api/v1/threads/${id}`, headers: auth, payload })

t.test('staff set the cadence; customers and readers cannot', async (t) => {
  const thread = await openThread(app, technician)
  t.equal(thread.cadenceMinutes, null, 'no cadence at first')
  assertError(t, await patch({}, thread.id, { cadenceMinutes: 30 }), 401, 'unauthorized')
  assertError(t, await patch(customer.auth, thread.id, { cadenceMinutes: 30 }), 403, 'staff_only')
  for (const bad of [0, 1441, 2.5]) assertError(t, await patch(technician.auth, thread.id, { cadenceMinutes: bad }), 400)
  const set = await patch(technician.auth, thread.id, { cadenceMinutes: 30 })
  t.equal(set.statusCode, 200)
  t.equal((set.json() as Thread).cadenceMinutes, 30, 'a technician sets it')
  t.equal((await patch(moderator.auth, thread.id, { cadenceMinutes: 45 })).json().cadenceMinutes, 45, 'a moderator too')
  t.equal((await patch(technician.auth, thread.id, { cadenceMinutes: null })).json().cadenceMinutes, null, 'null turns it off')
})

t.test('an update that promises nothing promises the next one by the cadence', async (t) => {
  const thread = await openThread(app, technician)
  await patch(technician.auth, thread.id, { cadenceMinutes: 30 })
  const update = await writePost(app, technician, thread.id, { body: 'Still working on it.' })
  const due = new Date(clock + 30 * 60_000).toISOString()
  t.equal(update.nextUpdateAt, due, 'the update carries the promise')
  t.equal((await readThread(app, thread.id)).nextUpdateAt, due, 'and so does the thread')

  const explicit = inFuture(10 * 60_000, clock)
  await writePost(app, technician, thread.id, { body: 'Soon.', nextUpdateAt: explicit })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, explicit, 'an explicit promise wins')

  await writePost(app, customer, thread.id, { body: 'Any news?' })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, explicit, 'a comment changes nothing')

  await writePost(app, technician, thread.id, { body: 'Fixed.', status: 'resolved' })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, null, 'a resolved incident promises nothing')
  await writePost(app, technician, thread.id, { body: 'Post-mortem next week.' })
  t.equal((await readThread(app, thread.id)).nextUpdateAt, null, 'nor do later updates while it stays resolved')
})

t.test('staff set the cadence from the thread page', async (t) => {
  const thread = await openThread(app, technician)
  const customerPage = (await app.inject({ url: `/t/${thread.id}`, cookies: await signIn(app, customer) })).body
  t.notMatch(customerPage, /name="cadenceMinutes"/, 'no cadence form for customers')
  const refused = await submitForm(app, await signIn(app, customer), `/t/${thread.id}`, `/t/${thread.id}/cadence`, { cadenceMinutes: '15' })
  t.equal(refused.statusCode, 403)

  const cookies = await signIn(app, technician)
  const sent = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/cadence`, { cadenceMinutes: '20' })
  t.equal(sent.statusCode, 303)
  t.equal(sent.headers.location, `/t/${thread.id}#cadence`)
  t.equal((await readThread(app, thread.id)).cadenceMinutes, 20)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(sectionById(page, 'cadence'), /<summary>Update cadence: an update every 20 min<\/summary>/, 'said once, not "cadence: default cadence"')
  t.match(page, /name="cadenceMinutes"[^>]*value="20"/)

  // Another technician, who reads in French.
  const french = sectionById((await app.inject({ url: `/t/${thread.id}?lang=fr`, cookies: await signIn(app, await makeUser(app, 'technician')) })).body, 'cadence')
  t.match(french, /<summary>Rythme des points\u00a0: un point toutes les 20\u00a0min<\/summary>/)

  const bad = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/cadence`, { cadenceMinutes: '5000' })
  t.equal(bad.statusCode, 400)
  const panel = sectionById(bad.body, 'cadence')
  t.match(panel, /^<details class="cadence" id="cadence" open>/, 'the cadence panel opens again')
  t.match(panel, /<p class="form-error" id="cadence-error" role="alert">The cadence must be 1 to 1440 minutes/, 'saying why, there')
  t.match(panel, /<input id="cadence-minutes"[^>]*value="5000"[^>]*aria-describedby="cadence-error cadence-hint" aria-invalid="true" autofocus>/, 'with what was typed, marked and focused')
  t.equal(bad.body.match(/The cadence must be 1 to 1440 minutes/g)?.length, 1, 'said once, not at the top too')
  t.match((await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/cadence`, { cadenceMinutes: 'soon' })).body, /The cadence must be 1 to 1440 minutes/)
  t.equal((await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/cadence`, { cadenceMinutes: '' })).statusCode, 303)
  t.equal((await readThread(app, thread.id)).cadenceMinutes, null, 'an empty field turns it off')
})

t.test('on a thread with a cadence, the form offers the cadence by name, ticked, and refuses a choice it does not offer', async (t) => {
  const thread = await openThread(app, technician)
  await patch(technician.auth, thread.id, { cadenceMinutes: 45 })
  const cookies = await signIn(app, technician)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(page, /<input type="radio" name="next" value="none" checked> keep the cadence: in 45 min<\/label>/, 'not "no promise", which would still promise')
  t.notMatch(page, /<input type="radio" name="next" value="30" checked>/, 'the cadence is the default')
  const handoverForm = (await app.inject({ url: `/t/${thread.id}/handover`, cookies })).body
  t.match(handoverForm, /value="none" checked> keep the cadence: in 45 min/, 'the handover form too')

  const sent = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Still on it.', kind: 'update', next: 'none' })
  t.equal(sent.statusCode, 303)
  t.equal(Date.parse((await readThread(app, thread.id)).nextUpdateAt!), clock + 45 * 60_000, 'the cadence promised the next one')

  const tampered = await submitForm(app, cookies, `/t/${thread.id}`, `/t/${thread.id}/posts`, { body: 'Odd choice.', kind: 'update', next: 'soon' })
  t.equal(tampered.statusCode, 400, 'a choice the form does not offer is refused')
  t.match(tampered.body, /The next update must be promised/)
  t.match(tampered.body, /Odd choice\./, 'the text is kept')

  await patch(technician.auth, thread.id, { cadenceMinutes: null })
  const plain = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(plain, /value="none"> no promise<\/label>/, 'without a cadence, "no promise" is what it says')
})
