import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import { isDeepStrictEqual } from 'node:util'
import type { Test } from 'tap'
import { buildApp, type AppOptions } from '../../src/app.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import type { Role, Shift } from '../../src/db/database.ts'
import type { Actor } from '../../src/domain/actors.ts'
import { createApiToken } from '../../src/domain/tokens.ts'
import { hashPassword } from '../../src/domain/passwords.ts'
import { toActor } from '../../src/domain/users.ts'
import { createTestDatabase } from './database.ts'
import { type DatabaseHandle, connectDatabase } from '../../src/db/connect.ts'

export interface TestApp {
  app: FastifyInstance
  config: Config
  /** Moves the app's clock forward. */
  advance: (ms: number) => void
  /** The embedded database, when there is no DATABASE_URL. */
  embedded: DatabaseHandle | undefined
}

/** An app on its own fresh database, closed and dropped when the test ends. */
export async function buildTestApp (t: Test, options: AppOptions & { env?: Record<string, string> } = {}): Promise<TestApp> {
  // Read first: a configuration refused leaves no database behind.
  const loaded = loadConfig({ SESSION_SECRET: 'test-secret-that-is-long-enough-for-hmac', ...options.env })
  const database = await createTestDatabase()
  const config = { ...loaded, databaseUrl: database.databaseUrl, dataDir: database.dataDir }
  let offset = 0
  const now = options.now ?? (() => new Date(Date.now() + offset))
  // The embedded database belongs to the test, not to the app, so a second
  // instance can share it and outlive the first.
  const embedded = database.databaseUrl === undefined ? await connectDatabase({ databaseUrl: undefined, dataDir: 'memory://' }) : undefined
  // Tests post far faster than any person: the per-user limits are off unless a test asks for them.
  let app: FastifyInstance
  try {
    app = await buildApp(config, {
      ...options,
      postingLimits: options.postingLimits ?? [],
      pressure: options.pressure ?? NOT_SHEDDING.pressure,
      // E-mails to followers go when a test sends them (app.sendNews), not on a timer of their own.
      followMail: options.followMail ?? { intervalMs: 24 * 3600_000 },
      now,
      ...(embedded !== undefined && { database: embedded })
    })
  } catch (err) {
    // An app that could not be built leaves no database behind either.
    await embedded?.close()
    await database.drop()
    throw err
  }
  checkSerialisation(t, app)
  t.teardown(async () => {
    await app.close()
    await embedded?.close()
    await database.drop()
  })
  return { app, config, advance: (ms) => { offset += ms }, embedded }
}

/**
 * Another instance on the same database: its own connections to the server,
 * or the same embedded database when there is no server.
 */
export async function buildSecondInstance (t: Test, first: TestApp, options: AppOptions = {}, configChange: Partial<TestApp['config']> = {}): Promise<FastifyInstance> {
  const app = await buildApp({ ...first.config, ...configChange }, {
    ...options,
    pressure: options.pressure ?? { force: () => false },
    ...(first.embedded !== undefined && { database: first.embedded })
  })
  checkSerialisation(t, app)
  t.teardown(() => app.close())
  return app
}

/**
 * Every JSON answer, as its route's schema serialised it, must say what
 * JSON.stringify would have said: a field a schema leaves out, or a value it
 * changes, fails whichever test meets it.
 */
function checkSerialisation (t: Test, app: FastifyInstance): void {
  const given = new WeakMap<FastifyRequest, unknown>()
  app.addHook('preSerialization', async (request, _reply, payload) => {
    given.set(request, payload)
    return payload
  })
  app.addHook('onSend', async (request, reply, payload) => {
    if (!given.has(request) || typeof payload !== 'string') return payload
    const expected: unknown = JSON.parse(JSON.stringify(given.get(request)))
    const sent: unknown = JSON.parse(payload)
    if (!isDeepStrictEqual(sent, expected)) {
      t.fail(`${request.method} ${request.routeOptions.url ?? request.url}: the ${reply.statusCode} answer differs from its JSON`, { found: sent, wanted: expected })
    }
    return payload
  })
}

/**
 * For an app a test builds itself: a test asserts what the app does, not how
 * busy the machine running the suite is, so nothing is shed unless a test
 * asks for pressure.
 */
export const NOT_SHEDDING = { pressure: { force: () => false } } satisfies AppOptions

export const PASSWORD = 'correct horse battery staple'

export interface TestUser { actor: Actor, token: string, auth: { authorization: string } }

let counter = 0
let passwordHash: Promise<string> | undefined
/** A user made directly in the database, with an API token. */
export async function makeUser (app: FastifyInstance, role: Role, fields: { name?: string, shift?: Shift, email?: string } = {}): Promise<TestUser> {
  counter++
  passwordHash ??= hashPassword(PASSWORD)
  const row = await app.db.insertInto('users').values({
    email: fields.email ?? `${role}${counter}@example.org`,
    name: fields.name ?? `${role[0]!.toUpperCase()}${role.slice(1)} ${counter}`,
    password_hash: await passwordHash,
    role,
    shift: role === 'technician' ? (fields.shift ?? 'day') : null,
    locale: null
  }).returningAll().executeTakeFirstOrThrow()
  const actor = toActor(row)
  const token = await createApiToken(app.db, actor.id)
  return { actor, token, auth: { authorization: `Bearer ${token}` } }
}

/** One user of each role, for the tests that try everything as everyone. */
export async function makeUserOfEachRole (app: FastifyInstance, technicianShift: Shift = 'day'): Promise<Record<Role, TestUser>> {
  return {
    customer: await makeUser(app, 'customer'),
    technician: await makeUser(app, 'technician', { shift: technicianShift }),
    moderator: await makeUser(app, 'moderator'),
    admin: await makeUser(app, 'admin')
  }
}

/** The value of a Set-Cookie header of the answer, by cookie name. */
export function cookieFrom (res: LightMyRequestResponse, name: string): string | undefined {
  return res.cookies.find((c) => c.name === name)?.value
}

/** The first hidden `_csrf` field of an HTML page. */
export function csrfFieldOf (html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html)
  if (match === null) throw new Error('no _csrf field in the page')
  return match[1]!
}
