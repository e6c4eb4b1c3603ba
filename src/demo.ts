import type { Kysely } from 'kysely'
import type { Database, Role, Shift, ThreadStatus } from './db/database.ts'
import type { Actor } from './domain/actors.ts'
import { makeDeps } from './domain/deps.ts'
import { createPost, type NewPost } from './domain/posts.ts'
import { shiftAt } from './domain/shifts.ts'
import { createThread, pinPost, updateThread } from './domain/threads.ts'
import { createUser, findUserByEmail, toActor } from './domain/users.ts'

/** Every demo account has this password; they exist to try Sitrep, never for real use. */
export const DEMO_PASSWORD = 'sitrep-demo'
export const DEMO_DOMAIN = 'demo.sitrep'

interface DemoAccount { key: string, email: string, name: string, role: Role, shift: Shift | null }

const ACCOUNTS: readonly DemoAccount[] = [
  { key: 'day', email: `day@${DEMO_DOMAIN}`, name: 'Nadia Benali', role: 'technician', shift: 'day' },
  { key: 'evening', email: `evening@${DEMO_DOMAIN}`, name: 'Marc Lefèvre', role: 'technician', shift: 'evening' },
  { key: 'night', email: `night@${DEMO_DOMAIN}`, name: 'Julien Garnier', role: 'technician', shift: 'night' },
  { key: 'moderator', email: `moderator@${DEMO_DOMAIN}`, name: 'Camille Moreau', role: 'moderator', shift: null },
  { key: 'shop', email: `customer@${DEMO_DOMAIN}`, name: 'Sophie Martin', role: 'customer', shift: null },
  { key: 'agency', email: `agency@${DEMO_DOMAIN}`, name: 'Tom Becker', role: 'customer', shift: null },
  { key: 'dev', email: `dev@${DEMO_DOMAIN}`, name: 'Ana Ribeiro', role: 'customer', shift: null },
  { key: 'saas', email: `saas@${DEMO_DOMAIN}`, name: 'Liam O’Brien', role: 'customer', shift: null },
  // Made last: its presence says the demo is fully loaded.
  { key: 'admin', email: `admin@${DEMO_DOMAIN}`, name: 'Demo Admin', role: 'admin', shift: null }
]

type CustomerKey = 'shop' | 'agency' | 'dev' | 'saas'

/** One moment of an incident's story. */
interface Beat {
  /** Minutes after the previous beat. */
  after: number
  /** 'duty' is the technician of the shift on duty at that moment. */
  by: 'duty' | 'moderator' | CustomerKey
  /** An official update (the default for staff) or a comment (the default for customers). */
  kind?: 'update' | 'comment'
  body: string
  status?: ThreadStatus
  /** Replies to the beat with this label. */
  replyTo?: string
  label?: string
  /** The current state in a sentence, carried into the next shift handover. */
  state?: string
  /** The moderator pins this update as the current state. */
  pin?: boolean
  /** The moderator sets slow mode (seconds) first. */
  slowMode?: number
  /** The moderator locks the thread first. */
  lock?: boolean
}

interface Story { title: string, beats: readonly Beat[] }

const FIRE: Story = {
  title: 'Fire in datacenter DC-2, room 3: all DC-2 servers down',
  beats: [
    {
      after: 0,
      by: 'duty',
      status: 'investigating',
      body: 'The fire alarm went off in DC-2, room 3, the electrical room. The building was evacuated and nobody is hurt. ' +
        'The fire brigade is on site. As a safety measure the whole of DC-2 was switched off, so **every server hosted in DC-2 is down**. ' +
        'DC-1 and DC-3 are not affected.\n\nWe will post here at least every hour, even when there is nothing new.',
      state: 'DC-2 is switched off after a fire in room 3; the fire brigade is on site.'
    },
    { after: 12, by: 'shop', label: 'data-safe', body: 'We have 14 servers in DC-2, rack C-14. Is our data safe?' },
    {
      after: 6,
      by: 'duty',
      kind: 'comment',
      replyTo: 'data-safe',
      body: 'Room 3 holds electrical equipment (switchboards and UPS batteries), no servers. The server rooms did not burn: ' +
        'your servers were switched off, not damaged, as far as we know now. We will confirm once we are allowed back in.'
    },
    {
      after: 5,
      by: 'duty',
      body: 'The fire brigade confirms the fire is confined to room 3 and under control. Smoke reached the corridor next to rooms 2 and 4; ' +
        'the ventilation is clearing it. We are not allowed into the building yet.'
    },
    {
      after: 20,
      by: 'duty',
      label: 'fire-out',
      body: 'The fire is out. The fire brigade is checking room 3 with thermal cameras before letting our staff in. ' +
        'Power stays off in all of DC-2 until an electrician has inspected the switchboards.',
      state: 'The fire is out; DC-2 stays off until the switchboards are inspected.',
      pin: true
    },
    { after: 9, by: 'agency', label: 'eta', body: 'Any ETA? Our own customers are calling us every five minutes.' },
    {
      after: 4,
      by: 'moderator',
      kind: 'comment',
      replyTo: 'eta',
      body: 'No reliable estimate yet, and we will not guess. What we know: the servers are off, not burned. ' +
        'Please ask here rather than by phone: an answer here reaches everyone at once.'
    },
    {
      after: 25,
      by: 'duty',
      status: 'identified',
      body: '**Cause identified.** A battery string of UPS B in room 3 overheated and caught fire. Room 3 feeds all of DC-2: ' +
        'its switchboards are covered in soot and partly damaged by the heat, and must be cleaned and tested before any power goes back on. ' +
        'Our electricians are in the building now, with the fire brigade\'s go-ahead.',
      state: 'Cause: a UPS B battery fire in room 3. DC-2 stays off until its switchboards are cleaned and tested.',
      pin: true
    },
    {
      after: 30,
      by: 'duty',
      body: 'The plan:\n\n1. isolate UPS B and its batteries;\n2. clean and test switchboards 1 to 4;\n' +
        '3. bring in a rented generator truck to feed DC-2 while room 3 is repaired.\n\nThe generator is ordered; the supplier says about 4 hours.'
    },
    { after: 15, by: 'dev', label: 'backups', body: 'Can we restore our backups somewhere else in the meantime?' },
    {
      after: 7,
      by: 'duty',
      kind: 'comment',
      replyTo: 'backups',
      body: 'Yes. The backup storage is in DC-1 and reachable. You can restore a backup to a new server in DC-1 or DC-3 from the control panel; ' +
        'those servers are free of charge for the whole incident.'
    },
    { after: 35, by: 'duty', body: 'UPS B and its batteries are disconnected and being taken out. Cleaning of switchboard 1 has started.' },
    {
      after: 45,
      by: 'duty',
      body: 'Switchboard 1 is clean; insulation tests are under way. Switchboards 2 to 4 are next. ' +
        'The cooling of DC-2 needs power too, so servers come back only once both power and cooling are up.'
    },
    {
      after: 50,
      by: 'duty',
      body: 'Switchboard 1 passed its tests. Switchboards 2 and 3 are being cleaned. The generator truck has left the depot and is expected in about 2 hours.',
      state: 'Switchboard 1 tested, 2 and 3 being cleaned; the generator truck is on its way.'
    },
    {
      after: 25,
      by: 'moderator',
      kind: 'comment',
      slowMode: 60,
      body: 'Slow mode is on: one comment a minute each, so the updates stay easy to find. Every question gets read.'
    },
    {
      after: 35,
      by: 'duty',
      body: 'Switchboards 2 and 3 are clean and being tested. The soot damage on switchboard 4 is worse: two breakers must be replaced, and the parts are on their way.'
    },
    {
      after: 55,
      by: 'duty',
      body: 'The generator truck is on site and being connected to switchboard 1. We plan to restart the cooling plant within the hour.',
      state: 'The generator is connected; cooling restarts next, then servers row by row. Switchboard 4 waits for two breakers.'
    },
    {
      after: 50,
      by: 'duty',
      body: 'Cooling runs again, on generator power. Rooms 1 and 2 are cooling down; once they are within temperature we start the servers row by row, ' +
        'beginning with rows A and B (shared hosting and the control panel).'
    },
    {
      after: 40,
      by: 'duty',
      body: 'Rows A and B are powered and their servers are starting; we check each one. The control panel is back, so you can see the state of your own servers there.'
    },
    { after: 20, by: 'saas', body: 'Our server in row A answers again. Thank you all!' },
    {
      after: 40,
      by: 'duty',
      body: 'Rows A and B: 412 of 430 servers are up. The other 18 have disk or power supply faults, and technicians are on them. Rows C and D are being powered now.',
      state: 'Rows A and B up (412 of 430); rows C and D starting; rows E and F wait for switchboard 4.'
    },
    { after: 20, by: 'shop', label: 'c14', body: 'Rack C-14 is ours. Any news?' },
    { after: 6, by: 'duty', kind: 'comment', replyTo: 'c14', body: 'Row C is starting as we speak: C-14 should be up within the hour.' },
    {
      after: 30,
      by: 'duty',
      body: 'Rows C and D are up: 780 of 812 servers are running. Room 3 stays out of service and DC-2 runs on the generator. ' +
        'Rows E and F (room 4) hang on switchboard 4, which waits for its breakers.'
    },
    { after: 25, by: 'agency', label: 'angry', body: 'This is unacceptable. Our shop has been offline for ten hours now.' },
    {
      after: 8,
      by: 'moderator',
      kind: 'comment',
      replyTo: 'angry',
      body: 'We understand, and we are sorry. Every DC-2 customer will get a service credit for the whole outage; the details will follow here. ' +
        'Meanwhile, a free server in DC-1 or DC-3 with your backup restored is the fastest way back online (see the answer about backups above).'
    },
    {
      after: 25,
      by: 'duty',
      body: 'The breakers for switchboard 4 have arrived. Replacing them takes about 3 hours; rows E and F follow right after.',
      state: 'Rows A to D up on generator power; switchboard 4 is being repaired, then rows E and F.'
    },
    { after: 60, by: 'duty', body: 'Switchboard 4: half of the breakers are replaced. Rows A to D are stable on generator power and at normal temperature.' },
    { after: 60, by: 'duty', body: 'Switchboard 4 is repaired and tested. Powering rows E and F now.' },
    {
      after: 55,
      by: 'duty',
      body: 'Rows E and F: 590 of 640 servers are up. We are working through the rest one by one.',
      state: 'Every row is powered; the servers that did not come back are being repaired one by one.'
    },
    { after: 30, by: 'dev', body: 'Thanks for posting every hour, day and night. It really helps to know where things stand.' },
    {
      after: 30,
      by: 'duty',
      status: 'monitoring',
      body: 'All rows are powered. **1,836 of 1,882 servers are up.** The other 46 have hardware faults; each is listed in the control panel with its state. ' +
        'DC-2 is stable on generator power. We are monitoring it and repairing the remaining servers.',
      state: '1,836 of 1,882 servers up, on generator power; 46 with hardware faults being repaired.',
      pin: true
    },
    { after: 60, by: 'duty', body: '34 of the 46 faulty servers are repaired. Spare disks and power supplies for the others are on their way.' },
    { after: 25, by: 'saas', label: 'generator', body: 'Is the generator safe for the long run? What happens when it runs out of fuel?' },
    {
      after: 8,
      by: 'duty',
      kind: 'comment',
      replyTo: 'generator',
      body: 'It is refuelled every 8 hours under contract, and a second truck stands by. Room 3 will be rebuilt with new UPS batteries over the coming weeks; ' +
        'the switch back to it will be announced here days in advance.'
    },
    { after: 25, by: 'duty', body: '40 of the 46 faulty servers are repaired. The last 6 wait for parts due within hours.' },
    {
      after: 30,
      by: 'moderator',
      body: '**Current state.** The fire in room 3 is out; its cause was a UPS battery fire. All of DC-2 runs on a generator while room 3 is rebuilt. ' +
        '**1,876 of 1,882 servers are up**; the last 6 wait for parts (listed in the control panel). ' +
        'Every DC-2 customer gets a service credit for the whole outage. Backups and free replacement servers in DC-1 and DC-3 stay available.',
      pin: true
    }
  ]
}

const MAIL: Story = {
  title: 'Outgoing e-mail delayed on relay mx-2',
  beats: [
    {
      after: 0,
      by: 'duty',
      status: 'investigating',
      body: 'Outgoing e-mail sent through mx-2 is delayed by up to 40 minutes. Incoming mail is not affected. We are looking into it.'
    },
    { after: 14, by: 'shop', label: 'invoices', body: 'Is that why our invoices reach our customers late?' },
    {
      after: 5,
      by: 'duty',
      kind: 'comment',
      replyTo: 'invoices',
      body: 'Very likely, yes. They are queued, not lost, and go out as soon as the queue drains.'
    },
    { after: 20, by: 'duty', status: 'identified', body: 'A full disk on mx-2 slowed its queue down. We are moving the queue to a larger volume.' },
    { after: 35, by: 'duty', status: 'monitoring', body: 'The queue is draining: 12,000 messages left, down from 85,000. No mail was lost.' },
    {
      after: 40,
      by: 'duty',
      status: 'resolved',
      label: 'resolved',
      body: 'The queue is empty and delivery is back to normal (under a minute). We added a disk space alert so this is caught much earlier. Closing this incident.',
      pin: true
    },
    { after: 15, by: 'moderator', kind: 'comment', lock: true, body: 'Locked, as the incident is over. For anything else, open a ticket.' }
  ]
}

export interface DemoOptions {
  /** The real present: the fire's story ends just before it. */
  now?: Date
  /** The organisation's time zone (TZ_DISPLAY): shifts and the times written in posts. */
  timeZone?: string
  /** Load even into a database that already has users of its own. */
  force?: boolean
}

export interface DemoResult {
  loaded: boolean
  /** Why nothing was loaded. */
  reason?: 'already_loaded' | 'not_empty'
  threads: { id: number, title: string }[]
  accounts: { email: string, name: string, role: Role, shift: Shift | null }[]
}

/**
 * Loads two incidents told through the domain, as staff and customers would:
 * a datacenter fire still being recovered, and a small resolved e-mail delay.
 */
export async function loadDemo (db: Kysely<Database>, options: DemoOptions = {}): Promise<DemoResult> {
  const rank: Role[] = ['admin', 'moderator', 'technician', 'customer']
  const accounts = ACCOUNTS.map(({ email, name, role, shift }) => ({ email, name, role, shift }))
    .sort((a, b) => rank.indexOf(a.role) - rank.indexOf(b.role))
  if (await findUserByEmail(db, `admin@${DEMO_DOMAIN}`) !== undefined) {
    return { loaded: false, reason: 'already_loaded', threads: [], accounts }
  }
  // Demo accounts share a published password: keep them out of a real forum.
  const others = await db.selectFrom('users').select('id').where('email', 'not like', `%@${DEMO_DOMAIN}`).limit(1).execute()
  if (others.length > 0 && options.force !== true) {
    return { loaded: false, reason: 'not_empty', threads: [], accounts }
  }

  const now = options.now ?? new Date()
  const timeZone = options.timeZone ?? 'UTC'
  const people = new Map<string, Actor>()
  for (const account of ACCOUNTS) people.set(account.key, await findOrCreate(db, account))

  const mailStart = atLocalHour(new Date(now.getTime() - 62 * HOUR), 10, timeZone)
  const mail = await tell(db, MAIL, mailStart, now, timeZone, people)
  const fireStart = new Date(now.getTime() - storyLength(FIRE) - 7 * MINUTE)
  const fire = await tell(db, FIRE, fireStart, now, timeZone, people)
  return { loaded: true, threads: [fire, mail], accounts }
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE

async function findOrCreate (db: Kysely<Database>, account: DemoAccount): Promise<Actor> {
  const existing = await findUserByEmail(db, account.email)
  if (existing !== undefined) return toActor(existing)
  return await createUser(db, { email: account.email, name: account.name, role: account.role, shift: account.shift, password: DEMO_PASSWORD })
}

function storyLength (story: Story): number {
  return story.beats.reduce((sum, beat) => sum + beat.after, 0) * MINUTE
}

/** One step of a story, with its time and author settled. */
interface Step {
  at: Date
  author: string
  beat: Beat | null
  /** For a handover: the outgoing and incoming shifts. */
  handover?: { from: Shift, to: Shift, state: string }
}

/**
 * Lays out a story in time: whoever is on duty writes the staff posts, and
 * when the shift changes, the outgoing lead hands over to the incoming one.
 */
function plan (story: Story, start: Date, timeZone: string): Step[] {
  const steps: Step[] = []
  let at = start.getTime()
  let duty: { shift: Shift, at: number } | null = null
  let state = ''
  for (const beat of story.beats) {
    at += beat.after * MINUTE
    if (beat.by === 'duty') {
      const shift = shiftAt(new Date(at), timeZone)
      if (duty !== null && shift !== duty.shift) {
        // A few minutes before the shift ends, or as soon as possible after the last post.
        const handoverAt = Math.max(shiftChange(duty.at, at, timeZone) - 3 * MINUTE, duty.at + MINUTE)
        const handover = { at: new Date(handoverAt), author: duty.shift, beat: null, handover: { from: duty.shift, to: shift, state } }
        const later = steps.findIndex((step) => step.at.getTime() > handoverAt)
        steps.splice(later === -1 ? steps.length : later, 0, handover)
      }
      duty = { shift, at }
    }
    state = beat.state ?? state
    steps.push({ at: new Date(at), author: beat.by === 'duty' ? duty!.shift : beat.by, beat })
  }
  return steps
}

/** The first minute after `from` at which another shift is on duty (at most `to`). */
function shiftChange (from: number, to: number, timeZone: string): number {
  const before = shiftAt(new Date(from), timeZone)
  for (let t = from + MINUTE; t < to; t += MINUTE) {
    if (shiftAt(new Date(t), timeZone) !== before) return t
  }
  return to
}

const isOfficial = (step: Step) =>
  step.handover !== undefined || (step.beat !== null && !isCustomer(step.beat.by) && (step.beat.kind ?? 'update') === 'update')

const isCustomer = (by: Beat['by']) => by === 'shop' || by === 'agency' || by === 'dev' || by === 'saas'

/** The promise an update makes: a little after the next official post, on a round five minutes. */
function promiseAfter (steps: Step[], index: number, now: Date): Date {
  const next = steps.slice(index + 1).find(isOfficial)
  const target = next === undefined
    ? Math.max(steps[index]!.at.getTime() + 45 * MINUTE, now.getTime() + 25 * MINUTE)
    : next.at.getTime() + 5 * MINUTE
  return new Date(Math.ceil(target / (5 * MINUTE)) * 5 * MINUTE)
}

async function tell (
  db: Kysely<Database>,
  story: Story,
  start: Date,
  now: Date,
  timeZone: string,
  people: Map<string, Actor>
): Promise<{ id: number, title: string }> {
  const steps = plan(story, start, timeZone)
  let clock = start
  const deps = makeDeps(db, { now: () => clock, timeZone })
  const person = (key: string) => people.get(key)!
  const moderator = person('moderator')
  const labels = new Map<string, number>()
  let threadId: number | undefined

  for (const [index, step] of steps.entries()) {
    clock = step.at
    const author = person(step.author)
    const beat = step.beat
    // The promise is the post's own: each reader sees it under the post, in their time zone.
    const promise = beat?.status === 'resolved' ? null : promiseAfter(steps, index, now)
    const nextUpdateAt = promise?.toISOString() ?? null

    if (threadId === undefined) {
      const opening = beat!
      const thread = await createThread(deps, author, { title: story.title, body: opening.body, status: opening.status, nextUpdateAt })
      threadId = thread.id
      continue
    }
    if (step.handover !== undefined) {
      const { from, to, state } = step.handover
      const body = `**Handover: ${from} shift to ${to} shift.** ${state} ${person(to).name} takes over from ${author.name}.`
      await createPost(deps, author, threadId, { body, kind: 'handover', nextUpdateAt })
      continue
    }
    if (beat === null) continue
    if (beat.slowMode !== undefined) await updateThread(deps, moderator, threadId, { slowModeSeconds: beat.slowMode })
    if (beat.lock === true) await updateThread(deps, moderator, threadId, { locked: true })
    const official = isOfficial(step)
    const input: NewPost = {
      body: beat.body,
      kind: official ? 'update' : 'comment',
      replyTo: beat.replyTo === undefined ? null : labels.get(beat.replyTo)!,
      ...(official && { status: beat.status, nextUpdateAt })
    }
    const post = await createPost(deps, author, threadId, input)
    if (beat.label !== undefined) labels.set(beat.label, post.id)
    if (beat.pin === true) {
      clock = new Date(clock.getTime() + 2 * MINUTE)
      await pinPost(deps, moderator, threadId, post.id)
    }
  }
  return { id: threadId!, title: story.title }
}

/** The latest moment at or before `date` when the clock of `timeZone` reads `hour`:00. */
function atLocalHour (date: Date, hour: number, timeZone: string): Date {
  let t = Math.floor(date.getTime() / HOUR) * HOUR
  for (let i = 0; i < 24; i++, t -= HOUR) {
    const h = Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(t)))
    if (h === hour) return new Date(t)
  }
  return new Date(t)
}
