import t from 'tap'
import type { DutyNow } from '../../src/domain/duty.ts'
import { shiftAt } from '../../src/domain/shifts.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError, openThread } from '../helpers/api.ts'
import { sectionById, signIn, submitForm } from '../helpers/pages.ts'

// Mid-morning, the clock running: the day shift is working (who leads next depends on it).
const started = new Date()
const offset = Date.UTC(started.getUTCFullYear(), started.getUTCMonth(), started.getUTCDate(), 10) - started.getTime()
const now = () => new Date(Date.now() + offset)
const { app } = await buildTestApp(t, { now })
const dayTech = await makeUser(app, 'technician', { name: 'Dana Day', shift: 'day' })
const nightTech = await makeUser(app, 'technician', { name: 'Nils Night', shift: 'night' })
const moderator = await makeUser(app, 'moderator', { name: 'Mona Mod' })
const customer = await makeUser(app, 'customer')
const thread = await openThread(app, dayTech, { title: 'Storage array degraded' })

const duty = async (): Promise<DutyNow> => (await app.inject({ url: '/api/v1/duty' })).json()
const checkIn = (auth: Record<string, string>, payload?: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: auth, ...(payload !== undefined && { payload }) })

t.test('only staff check in and out', async (t) => {
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/duty/check-in' }), 401, 'unauthorized')
  assertError(t, await checkIn(customer.auth), 403, 'staff_only')
  assertError(t, await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: customer.auth }), 403, 'staff_only')
  t.same(await duty(), { onDuty: [], lead: null }, 'nobody is on duty')
})

t.test('while nobody has checked in, staff are told so and readers are not alarmed', async (t) => {
  const shift = { day: 'Day shift', evening: 'Evening shift', night: 'Night shift' }[shiftAt(now(), 'UTC')]
  const list = sectionById((await app.inject({ url: '/' })).body, 'duty')
  t.notMatch(list, /Nobody/, 'a reader of the list is not told that nobody works on it')
  t.match(list, new RegExp(`<p class="duty__shift">${shift}</p>`), 'but which shift is on by the schedule')
  t.match(sectionById((await app.inject({ url: '/', cookies: await signIn(app, customer) })).body, 'duty'), new RegExp(shift), 'a customer too')
  const threadPage = (await app.inject({ url: `/t/${thread.id}` })).body
  t.notMatch(sectionById(threadPage, 'duty'), /Nobody/, 'nor a reader of the thread')
  t.notMatch(threadPage, /<section class="thread__shifts" aria-label/, 'where the empty box is no landmark for a screen reader to stop at')
  t.match(threadPage, new RegExp(`Scheduled now: ${shift}`), 'whose state names the shift of the hour')
  const staffList = sectionById((await app.inject({ url: '/', cookies: await signIn(app, moderator) })).body, 'duty')
  t.match(staffList, /Nobody has checked in\./, 'staff are told, next to the check-in button')
  t.match(staffList, /action="\/duty\/check-in"/)
  t.match(sectionById((await app.inject({ url: '/?lang=fr', cookies: await signIn(app, dayTech) })).body, 'duty'), /Personne n’a pris son service\./, 'in French')
})

t.test('the first one in leads; a technician may take the lead; a leaving lead hands it on', async (t) => {
  const first = await checkIn(dayTech.auth)
  t.equal(first.statusCode, 200)
  t.match(first.json().lead, { name: 'Dana Day', shift: 'day', lead: true }, 'the first one in leads')
  t.equal((await checkIn(moderator.auth)).json().lead.name, 'Dana Day', 'the next one does not')
  t.equal((await checkIn(moderator.auth)).json().onDuty.length, 2, 'checking in twice is one duty')

  assertError(t, await checkIn(nightTech.auth, { lead: 'yes' }), 400, 'invalid_request')
  t.equal((await duty()).onDuty.length, 2, 'a lead that is not a boolean is refused, not ignored: no check-in')
  const taken = (await checkIn(nightTech.auth, { lead: true })).json()
  t.equal(taken.lead.name, 'Nils Night', 'asking to lead takes the lead')
  t.same(taken.onDuty.map((p: { name: string, lead: boolean }) => [p.name, p.lead]), [['Nils Night', true], ['Dana Day', false], ['Mona Mod', false]])

  const out = await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: nightTech.auth })
  t.equal(out.statusCode, 200)
  t.equal(out.json().lead.name, 'Dana Day', 'the lead goes to whoever has been on duty longest')
  t.same((await duty()).onDuty.map((p) => p.name), ['Dana Day', 'Mona Mod'])
})

t.test('the thread page and the incident list show who is on duty and the lead', async (t) => {
  const page = (await app.inject({ url: `/t/${thread.id}` })).body
  const box = sectionById(page, 'duty')
  t.match(box, /Shift lead: <bdi>Dana Day<\/bdi>/)
  t.match(box, /Mona Mod/)
  t.notMatch(box, /action="\/duty\//, 'no duty buttons for readers')
  t.match(sectionById((await app.inject({ url: '/' })).body, 'duty'), /Shift lead: <bdi>Dana Day<\/bdi>/, 'the incident list too')
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}?lang=fr` })).body, 'duty'), /Chef d’équipe\u00a0: <bdi>Dana Day<\/bdi>/, 'in French')
  t.notMatch(sectionById((await app.inject({ url: '/', cookies: await signIn(app, customer) })).body, 'duty'), /action="\/duty\//, 'nor for customers')
})

t.test('staff check in and out from the page', async (t) => {
  const cookies = await signIn(app, nightTech)
  const page = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(sectionById(page, 'duty'), /action="\/duty\/check-in"/)
  const inForm = await submitForm(app, cookies, `/t/${thread.id}`, '/duty/check-in', { next: `/t/${thread.id}`, lead: 'on' })
  t.equal(inForm.statusCode, 303)
  t.equal(inForm.headers.location, `/t/${thread.id}`)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'duty'), /Shift lead: <bdi>Nils Night<\/bdi>/)

  const evil = await submitForm(app, cookies, '/', '/duty/check-in', { next: '//evil.example.org/' })
  t.equal(evil.headers.location, '/', 'the way back stays on the site')

  const mine = (await app.inject({ url: `/t/${thread.id}`, cookies })).body
  t.match(sectionById(mine, 'duty'), new RegExp(`<a class="button button--small" href="/t/${thread.id}/handover\\?checkOut=1">Hand over and check out</a>`), 'the handover form is a link away')
  t.equal((await app.inject({ url: `/t/${thread.id}/handover`, cookies })).statusCode, 200)
  t.ok((await duty()).onDuty.some((p) => p.name === 'Nils Night'), 'opening the handover form does not check out')
  const resolved = await openThread(app, dayTech, { title: 'Printer queue stuck' })
  await app.inject({ method: 'PATCH', url: `/api/v1/threads/${resolved.id}`, headers: dayTech.auth, payload: { status: 'resolved' } })
  const closedPage = (await app.inject({ url: `/t/${resolved.id}`, cookies })).body
  t.notMatch(closedPage, /href="\/t\/\d+\/handover/, 'no link to hand over a resolved incident, anywhere on its page')
  const closedBox = sectionById(closedPage, 'duty')
  t.notMatch(closedBox, /\/handover"/, 'a resolved incident offers no handover')
  t.match(closedBox, /action="\/duty\/check-out"/, 'checking out is still there')
  const outForm = await submitForm(app, cookies, `/t/${thread.id}`, '/duty/check-out', { next: `/t/${thread.id}` })
  t.equal(outForm.headers.location, `/t/${thread.id}`)
  t.notOk((await duty()).onDuty.some((p) => p.name === 'Nils Night'), 'checked out')
  const refused = await submitForm(app, await signIn(app, customer), '/', '/duty/check-in', { next: '/' })
  t.equal(refused.statusCode, 403, 'a customer cannot check in from a page either')
  t.match(refused.body, /Only technicians, moderators and admins may do this\./)
})
