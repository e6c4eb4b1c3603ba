import t from 'tap'
import { buildSecondInstance, buildTestApp, makeUser } from '../helpers/app.ts'
import { assertError, openThread, writePost } from '../helpers/api.ts'
import { signIn, submitForm } from '../helpers/pages.ts'

// 12:00 UTC is 13:00 in Paris: the day shift by the default schedule (07, 15, 23).
let clock = Date.parse('2026-01-15T12:00:00Z')
const first = await buildTestApp(t, { now: () => new Date(clock), env: { TZ_DISPLAY: 'Europe/Paris' } })
const { app } = first
const admin = await makeUser(app, 'admin')
const moderator = await makeUser(app, 'moderator')
const technician = await makeUser(app, 'technician')
const customer = await makeUser(app, 'customer')

t.test('anyone reads the schedule; only admins change it', async (t) => {
  const read = await app.inject({ url: '/api/v1/shifts' })
  t.equal(read.statusCode, 200)
  t.same(read.json(), { day: 7, evening: 15, night: 23, timeZone: 'Europe/Paris', current: 'day' })

  const change = { day: 6, evening: 14, night: 22 }
  assertError(t, await app.inject({ method: 'PUT', url: '/api/v1/shifts', payload: change }), 401, 'unauthorized')
  for (const user of [customer, technician, moderator]) {
    assertError(t, await app.inject({ method: 'PUT', url: '/api/v1/shifts', headers: user.auth, payload: change }), 403, 'admin_only')
  }
  assertError(t, await app.inject({ method: 'PUT', url: '/api/v1/shifts', headers: admin.auth, payload: { day: 7, evening: 7, night: 23 } }), 400, 'invalid_shift_hours')
  assertError(t, await app.inject({ method: 'PUT', url: '/api/v1/shifts', headers: admin.auth, payload: { day: 7, evening: 24, night: 23 } }), 400, 'invalid_shift_hours')
  // The evening at 6, meant for 16: a day shift of 16 hours and an evening of one.
  for (const payload of [{ day: 7, evening: 6, night: 23 }, { day: 7, evening: 23, night: 15 }, { day: 22, evening: 14, night: 6 }]) {
    const misordered = await app.inject({ method: 'PUT', url: '/api/v1/shifts', headers: admin.auth, payload })
    assertError(t, misordered, 400, 'invalid_shift_hours')
    t.equal(misordered.json().error.message, 'The shifts follow one another around the clock: day, then evening, then night.')
  }
  t.same((await app.inject({ url: '/api/v1/shifts' })).json().day, 7, 'nothing changed')
})

t.test('a new schedule moves the shift stamped on new posts, and is audited', async (t) => {
  const thread = await openThread(app, moderator)
  // 13:30 in Paris.
  clock = Date.parse('2026-01-15T12:30:00Z')
  t.equal((await writePost(app, moderator, thread.id, { body: 'Before' })).shift, 'day')

  const res = await app.inject({ method: 'PUT', url: '/api/v1/shifts', headers: admin.auth, payload: { day: 6, evening: 13, night: 21 } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { day: 6, evening: 13, night: 21, current: 'evening' })
  t.equal((await writePost(app, moderator, thread.id, { body: 'After' })).shift, 'evening', 'the evening shift now starts at 13:00')
  // 14:30: past the hour in which a handover closes the shift that just ended.
  clock = Date.parse('2026-01-15T13:30:00Z')
  const handover = await writePost(app, moderator, thread.id, { body: 'Over to the night', kind: 'handover' })
  t.equal(handover.handoverTo, 'night', 'the next shift in the new schedule takes over')

  // The same schedule saved again changes nothing, and the log says nothing.
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/shifts', headers: admin.auth, payload: { day: 6, evening: 13, night: 21 } })).statusCode, 200)
  const audit = await app.db.selectFrom('audit_log').selectAll().where('action', '=', 'shifts.update').execute()
  t.equal(audit.length, 1, 'one audit row')
  t.equal(audit[0]!.actor_id, admin.actor.id)
  t.same(audit[0]!.before, { day: 7, evening: 15, night: 23 })
  t.same(audit[0]!.after, { day: 6, evening: 13, night: 21 })
})

t.test('admins set the schedule from a page that works without JavaScript', async (t) => {
  const techCookies = await signIn(app, technician)
  t.equal((await app.inject({ url: '/admin/shifts', cookies: techCookies })).statusCode, 403, 'not for technicians')
  t.equal((await app.inject({ url: '/admin/shifts' })).headers.location, '/login?next=/admin/shifts', 'readers are asked to sign in')

  const cookies = await signIn(app, admin)
  const page = await app.inject({ url: '/admin/shifts', cookies })
  t.equal(page.statusCode, 200)
  t.match(page.body, /name="evening"[^>]*value="13"/, 'the form shows the hours in force')
  t.match(page.body, /href="\/admin\/shifts"/, 'the admin menu links to it')

  const bad = await submitForm(app, cookies, '/admin/shifts', '/admin/shifts', { day: '7', evening: '7', night: '23' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Each shift starts at a different whole hour/)

  const misordered = await submitForm(app, cookies, '/admin/shifts?lang=fr', '/admin/shifts', { day: '7', evening: '6', night: '23' })
  t.equal(misordered.statusCode, 400)
  t.match(misordered.body, /Les équipes se suivent dans l’ordre de la journée\u00a0: jour, puis soir, puis nuit\./, 'a schedule out of order is refused, saying why')
  await app.inject({ url: '/admin/shifts?lang=en', cookies })

  const saved = await submitForm(app, cookies, '/admin/shifts', '/admin/shifts', { day: '8', evening: '16', night: '0' })
  t.equal(saved.statusCode, 303)
  t.equal(saved.headers.location, '/admin/shifts?saved=1')
  t.same((await app.inject({ url: '/api/v1/shifts' })).json(), { day: 8, evening: 16, night: 0, timeZone: 'Europe/Paris', current: 'day' })

  const french = await app.inject({ url: '/admin/shifts?lang=fr', cookies })
  t.match(french.body, /Horaires des équipes/)
  t.equal((await app.db.selectFrom('audit_log').select('id').where('action', '=', 'shifts.update').execute()).length, 2)
})

t.test('another instance started later works by the stored schedule', async (t) => {
  const other = await buildSecondInstance(t, first, { now: () => new Date(clock) })
  t.same((await other.inject({ url: '/api/v1/shifts' })).json(), { day: 8, evening: 16, night: 0, timeZone: 'Europe/Paris', current: 'day' })
  const thread = await openThread(other, moderator)
  // 15:30 in Paris: the day shift until 16:00 by the stored schedule.
  clock = Date.parse('2026-01-15T14:30:00Z')
  t.equal((await writePost(other, moderator, thread.id, { body: 'Still the day shift' })).shift, 'day')
})
