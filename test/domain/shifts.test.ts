import t from 'tap'
import { minutesSinceClockTime, nextClockTime, shiftAt, shiftOfAuthor } from '../../src/domain/shifts.ts'
import type { Actor } from '../../src/domain/actors.ts'

const at = (iso: string) => new Date(iso)

t.test('the shift on duty by the hour, in UTC', async (t) => {
  const cases: [string, string][] = [
    ['2026-03-10T00:00:00Z', 'night'],
    ['2026-03-10T06:59:59Z', 'night'],
    ['2026-03-10T07:00:00Z', 'day'],
    ['2026-03-10T14:59:59Z', 'day'],
    ['2026-03-10T15:00:00Z', 'evening'],
    ['2026-03-10T22:59:59Z', 'evening'],
    ['2026-03-10T23:00:00Z', 'night']
  ]
  for (const [time, shift] of cases) t.equal(shiftAt(at(time), 'UTC'), shift, time)
})

t.test('the hour is read in the given time zone', async (t) => {
  t.equal(shiftAt(at('2026-03-10T06:30:00Z'), 'Europe/Paris'), 'day', '07:30 in Paris')
  t.equal(shiftAt(at('2026-03-10T06:30:00Z'), 'America/New_York'), 'night', '01:30 in New York')
  t.equal(shiftAt(at('2026-03-10T06:30:00Z'), 'Asia/Tokyo'), 'evening', '15:30 in Tokyo')
})

t.test('other shift hours', async (t) => {
  const hours = { day: 6, evening: 14, night: 22 }
  t.equal(shiftAt(at('2026-03-10T05:59:00Z'), 'UTC', hours), 'night')
  t.equal(shiftAt(at('2026-03-10T06:00:00Z'), 'UTC', hours), 'day')
  t.equal(shiftAt(at('2026-03-10T22:00:00Z'), 'UTC', hours), 'night')
})

t.test('who carries which shift', async (t) => {
  const base: Actor = { id: 1, email: 'a@example.org', name: 'A', role: 'customer', shift: null, locale: null }
  const noon = at('2026-03-10T12:00:00Z')
  t.equal(shiftOfAuthor(base, noon, 'UTC'), null, 'a customer has none')
  t.equal(shiftOfAuthor({ ...base, role: 'technician', shift: 'night' }, noon, 'UTC'), 'night', "a technician has their own")
  t.equal(shiftOfAuthor({ ...base, role: 'moderator' }, noon, 'UTC'), 'day', 'a moderator has the one on duty')
  t.equal(shiftOfAuthor({ ...base, role: 'admin' }, at('2026-03-10T16:00:00Z'), 'UTC'), 'evening', 'an admin too')
})

t.test('the next time the clock shows a time: today, tomorrow once passed, across a change of the clocks', async (t) => {
  t.equal(nextClockTime(at('2026-03-10T05:10:20Z'), 'UTC', 7, 30).toISOString(), '2026-03-10T07:30:00.000Z', 'later today')
  t.equal(nextClockTime(at('2026-03-10T08:00:00Z'), 'UTC', 7, 30).toISOString(), '2026-03-11T07:30:00.000Z', 'passed: tomorrow')
  t.equal(nextClockTime(at('2026-03-10T07:30:00Z'), 'UTC', 7, 30).toISOString(), '2026-03-11T07:30:00.000Z', 'now is no promise: tomorrow')
  t.equal(nextClockTime(at('2026-03-10T12:00:00Z'), 'Europe/Paris', 14, 15).toISOString(), '2026-03-10T13:15:00.000Z', 'by the organisation\u2019s clock')
  t.equal(nextClockTime(at('2026-12-10T22:30:00Z'), 'Asia/Kolkata', 7, 0).toISOString(), '2026-12-11T01:30:00.000Z', 'in a zone half an hour off')
  // Paris goes from 02:00 to 03:00 in the night of 28 to 29 March 2026.
  t.equal(nextClockTime(at('2026-03-28T23:30:00Z'), 'Europe/Paris', 7, 30).toISOString(), '2026-03-29T05:30:00.000Z', 'summer time begun in between')
  t.equal(nextClockTime(at('2026-10-24T22:30:00Z'), 'Europe/Paris', 7, 30).toISOString(), '2026-10-25T06:30:00.000Z', 'summer time ended in between')
  // 02:30 does not exist in Paris that night: 01:45 to 03:30 is the 45 min the clocks show.
  t.equal(nextClockTime(at('2026-03-29T00:45:00Z'), 'Europe/Paris', 2, 30).toISOString(), '2026-03-29T01:30:00.000Z', 'a time the clocks skip: after the change, never before now')
})

t.test('how long ago the clock showed a time, by the clock, over a change of the clocks too', async (t) => {
  t.equal(minutesSinceClockTime(at('2026-03-10T12:00:00Z'), 'UTC', 12, 0), 0, 'now')
  t.equal(minutesSinceClockTime(at('2026-03-10T12:00:00Z'), 'UTC', 11, 40), 20, 'twenty minutes ago')
  t.equal(minutesSinceClockTime(at('2026-03-10T12:00:00Z'), 'UTC', 12, 1), 1439, 'a minute ahead: nearly a day ago')
  // 03:30 in Paris, the night summer time began at 02:00 (01:00 UTC): the clock says 01:50 was 100 minutes ago.
  t.equal(minutesSinceClockTime(at('2026-03-29T01:30:00Z'), 'Europe/Paris', 1, 50), 100)
  t.equal(minutesSinceClockTime(at('2026-03-29T01:30:00Z'), 'Europe/Paris', 14, 15), 13 * 60 + 15, 'yesterday afternoon, by the clock')
})
