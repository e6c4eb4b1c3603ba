import t from 'tap'
import type { DutyNow } from '../../src/domain/duty.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { openThread, writePost } from '../helpers/api.ts'
import { sectionById, signIn, submitForm } from '../helpers/pages.ts'

// Shifts start at 07:00 (day), 15:00 (evening) and 23:00 (night) in Paris,
// an hour ahead of UTC in winter. 05:30 UTC is 06:30 in Paris.
let clock = Date.parse('2026-01-15T05:30:00Z')
const { app } = await buildTestApp(t, { now: () => new Date(clock), env: { TZ_DISPLAY: 'Europe/Paris' } })
const dayTech = await makeUser(app, 'technician', { name: 'Dana Day', shift: 'day' })
const moderator = await makeUser(app, 'moderator', { name: 'Mona Mod' })
const thread = await openThread(app, dayTech, { title: 'Cooling failure' })

const duty = async (): Promise<DutyNow> => (await app.inject({ url: '/api/v1/duty' })).json()
const checkIn = (auth: Record<string, string>) => app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: auth })

t.test('a check-in lasts until an hour after the end of the shift it opens', async (t) => {
  t.equal((await checkIn(dayTech.auth)).statusCode, 200)
  const early = (await checkIn(moderator.auth)).json() as DutyNow
  const mona = early.onDuty.find((person) => person.name === 'Mona Mod')!
  t.equal(mona.shift, 'day', 'a moderator checking in in the hour before the day shift joins the day shift')
  t.equal(mona.until, '2026-01-15T15:00:00.000Z', 'until 16:00 in Paris: the day ends at 15:00, and an hour for the handover')
  t.equal(early.lead!.name, 'Dana Day', 'the first one in leads')

  const cookies = await signIn(app, moderator)
  const box = sectionById((await app.inject({ url: `/t/${thread.id}`, cookies })).body, 'duty')
  t.match(box, /You are on duty until <time[^>]*>16:00<\/time>, unless you check in again\./)
  t.notMatch(box, /Stay on duty/, 'nothing to stay on for yet: checking in again would change nothing')
  // (The account keeps the language it last asked for: the pages below ask for English.)
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}?lang=fr`, cookies })).body, 'duty'), /Fin de votre service\u00a0: <time[^>]*>16:00<\/time>, sauf si vous le reprenez\./)
})

t.test('late in the shift, staying on keeps one on duty through the next shift', async (t) => {
  clock = Date.parse('2026-01-15T13:30:00Z') // 14:30 in Paris
  const cookies = await signIn(app, moderator)
  const box = sectionById((await app.inject({ url: `/t/${thread.id}?lang=en`, cookies })).body, 'duty')
  t.match(box, /Stay on duty/)
  const stayed = await submitForm(app, cookies, `/t/${thread.id}`, '/duty/check-in', { next: `/t/${thread.id}` })
  t.equal(stayed.statusCode, 303)
  const mona = (await duty()).onDuty.find((person) => person.name === 'Mona Mod')!
  t.equal(mona.until, '2026-01-15T23:00:00.000Z', 'until midnight in Paris: the evening ends at 23:00')
  t.equal(mona.since, '2026-01-15T05:30:00.000Z', 'still on duty since the morning')
  t.match(sectionById((await app.inject({ url: `/t/${thread.id}?lang=en`, cookies })).body, 'duty'), /until <time[^>]*>16 Jan[^<]*00:00<\/time>/, 'the day shown when it is not today')
})

t.test('a forgotten check-out lapses, and the lead passes on', async (t) => {
  clock = Date.parse('2026-01-15T15:00:01Z') // 16:00 in Paris
  const now = await duty()
  t.same(now.onDuty.map((person) => person.name), ['Mona Mod'], 'the day technician is no longer on duty')
  t.equal(now.lead?.name, 'Mona Mod', 'whoever is left leads')
  t.notMatch(sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'duty'), /Dana Day/, 'nor shown as such')

  // Checking in again after a lapse is a new duty, from now.
  const back = (await checkIn(dayTech.auth)).json() as DutyNow
  const dana = back.onDuty.find((person) => person.name === 'Dana Day')!
  t.equal(dana.since, '2026-01-15T15:00:01.000Z')
  t.equal(back.lead?.name, 'Mona Mod', 'and does not take the lead back')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: dayTech.auth })).statusCode, 200)

  clock = Date.parse('2026-01-15T23:00:01Z')
  t.same(await duty(), { onDuty: [], lead: null }, 'everyone has lapsed')
})

t.test("a moderator's handover in the hour after the change closes the shift that ended", async (t) => {
  clock = Date.parse('2026-01-15T14:10:00Z') // 15:10 in Paris, ten minutes into the evening
  const handover = await writePost(app, moderator, thread.id, { body: 'Day shift done.', kind: 'handover' })
  t.same([handover.shift, handover.handoverTo], ['day', 'evening'])
  const cookies = await signIn(app, moderator)
  t.match((await app.inject({ url: `/t/${thread.id}/handover?lang=en`, cookies })).body, /closes your shift \(Day shift\) and opens the next one \(Evening shift\)/, 'the form says so')
  t.equal((await writePost(app, moderator, thread.id, { body: 'An update.' })).shift, 'evening', 'an update carries the shift on duty')
})

t.test('the thread page names the shift on duty, and carries the next changes for a page left open', async (t) => {
  clock = Date.parse('2026-01-15T13:59:00Z') // 14:59 in Paris
  const line = sectionById((await app.inject({ url: `/t/${thread.id}` })).body, 'thread-duty')
  t.match(line, />Scheduled now: Day shift</)
  t.match(line, /data-changes="evening@2026-01-15T14:00:00\.000Z night@2026-01-15T22:00:00\.000Z day@2026-01-16T06:00:00\.000Z"/)
})
t.test('a lead who hands over and leaves hands the lead to the incoming shift, not to a colleague leaving too', async (t) => {
  const nico = await makeUser(app, 'technician', { name: 'Nico Night', shift: 'night' })
  const nina = await makeUser(app, 'technician', { name: 'Nina Night', shift: 'night' })
  const dora = await makeUser(app, 'technician', { name: 'Dora Day', shift: 'day' })
  clock = Date.parse('2026-01-17T22:30:00Z') // 23:30 in Paris
  await app.inject({ method: 'POST', url: '/api/v1/duty/check-in', headers: nico.auth, payload: { lead: true } })
  await checkIn(nina.auth)
  clock = Date.parse('2026-01-18T05:40:00Z') // 06:40 in Paris: the day shift comes in
  await checkIn(dora.auth)
  clock = Date.parse('2026-01-18T05:50:00Z')
  const handedOver = await app.inject({ method: 'POST', url: `/api/v1/threads/${thread.id}/handover`, headers: nico.auth, payload: { done: 'Racks up.', pending: 'Cooling.', next: 'Watch it.', checkOut: true } })
  t.equal(handedOver.statusCode, 201)
  t.same((await duty()).onDuty.map((person) => [person.name, person.lead]), [['Dora Day', true], ['Nina Night', false]], 'the day shift leads; the night colleague, on duty longer, does not')
  for (const user of [nina, dora]) await app.inject({ method: 'POST', url: '/api/v1/duty/check-out', headers: user.auth })
})
