import t from 'tap'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { openThread, writePost } from '../helpers/api.ts'

// The organisation works on Paris time; the app's clock is set by the test.
// Shifts start at 07:00 (day), 15:00 (evening) and 23:00 (night), local time.
let clock = Date.parse('2026-01-15T12:00:00Z')
const { app } = await buildTestApp(t, { now: () => new Date(clock), env: { TZ_DISPLAY: 'Europe/Paris' } })
const moderator = await makeUser(app, 'moderator')
const admin = await makeUser(app, 'admin')
const evening = await makeUser(app, 'technician', { shift: 'evening' })
const customer = await makeUser(app, 'customer')
const thread = await openThread(app, evening)

t.test("a moderator's update carries the shift on duty in the organisation's time zone", async (t) => {
  // The third: an admin's handover, which in the hour after a change closes the shift that just ended.
  const cases: [string, string, string][] = [
    ['2026-01-15T05:59:00Z', 'night', 'night'], // 06:59 in Paris
    ['2026-01-15T06:00:00Z', 'day', 'night'], // 07:00 in Paris, still night in UTC
    ['2026-01-15T06:59:00Z', 'day', 'night'],
    ['2026-01-15T07:00:00Z', 'day', 'day'],
    ['2026-01-15T13:59:00Z', 'day', 'day'],
    ['2026-01-15T14:00:00Z', 'evening', 'day'],
    ['2026-01-15T21:59:00Z', 'evening', 'evening'],
    ['2026-01-15T22:00:00Z', 'night', 'evening'], // 23:00 in Paris
    ['2026-01-16T01:30:00Z', 'night', 'night'],
    ['2026-07-15T05:00:00Z', 'day', 'night'] // 07:00 in Paris in summer time
  ]
  for (const [time, shift, handedOver] of cases) {
    clock = Date.parse(time)
    const update = await writePost(app, moderator, thread.id, { body: `Update at ${time}` })
    t.equal(update.shift, shift, `${time}: ${shift}`)
    const handover = await writePost(app, admin, thread.id, { body: `Handover at ${time}`, kind: 'handover' })
    t.equal(handover.shift, handedOver, `${time}: an admin's handover closes the ${handedOver} shift`)
    t.equal(update.createdAt, new Date(clock).toISOString(), "the post is dated by the app's clock")
  }
})

t.test("a technician's post carries their own shift at any hour", async (t) => {
  for (const time of ['2026-01-15T03:00:00Z', '2026-01-15T10:00:00Z', '2026-01-15T18:00:00Z']) {
    clock = Date.parse(time)
    const update = await writePost(app, evening, thread.id, { body: `Update at ${time}` })
    t.equal(update.shift, 'evening', time)
  }
})

t.test("a customer's comment carries no shift; a staff member's carries theirs", async (t) => {
  clock = Date.parse('2026-01-15T12:00:00Z')
  t.equal((await writePost(app, customer, thread.id, { body: 'Hi' })).shift, null)
  t.equal((await writePost(app, moderator, thread.id, { body: 'Hi', kind: 'comment' })).shift, 'day')
})
