import t from 'tap'
import { shiftAt, shiftOfAuthor } from '../../src/domain/shifts.ts'
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
