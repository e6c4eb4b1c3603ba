import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import { LOCK_FILE, connectDatabase } from '../../src/db/connect.ts'
import { NOT_SHEDDING, makeUser } from '../helpers/app.ts'

// Always the embedded database on disk, whatever DATABASE_URL says: it is what
// a newcomer runs on, and it must keep its data across restarts.
const dataDir = mkdtempSync(join(tmpdir(), 'sitrep-embedded-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

const config: Config = {
  ...loadConfig({ SESSION_SECRET: 'embedded-test-secret-long-enough-for-hmac', DATA_DIR: dataDir }),
  databaseUrl: undefined
}

const inUse = (pid: number) =>
  `the embedded database in ${dataDir} is in use by process ${pid} (stop the server first, or set DATABASE_URL)`

t.test('the core flow runs on the embedded database and outlives a restart', async (t) => {
  let app = await buildApp(config, NOT_SHEDDING)
  let threadId: number
  let pinnedId: number
  let technicianAuth: { authorization: string }
  try {
    t.equal(app.database.kind, 'embedded')
    const technician = await makeUser(app, 'technician', { shift: 'evening' })
    const customer = await makeUser(app, 'customer')
    const moderator = await makeUser(app, 'moderator')
    technicianAuth = technician.auth

    const opened = await app.inject({
      method: 'POST', url: '/api/v1/threads', headers: technician.auth,
      payload: { title: 'Fire in datacenter DC-2, room 3', body: 'The fire brigade is on site. All DC-2 servers are down.' }
    })
    t.equal(opened.statusCode, 201, 'a technician opens the incident')
    threadId = opened.json().id

    const comment = await app.inject({
      method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: customer.auth,
      payload: { body: 'Is the data on our servers safe?' }
    })
    t.equal(comment.statusCode, 201, 'a customer comments')
    t.equal(comment.json().kind, 'comment')

    const update = await app.inject({
      method: 'POST', url: `/api/v1/threads/${threadId}/posts`, headers: technician.auth,
      payload: { body: 'The fire is out. Servers were switched off, not burned.', status: 'identified' }
    })
    t.equal(update.statusCode, 201, 'the technician posts an update')
    pinnedId = update.json().id

    const pinned = await app.inject({ method: 'PUT', url: `/api/v1/threads/${threadId}/pin`, headers: moderator.auth, payload: { postId: pinnedId } })
    t.equal(pinned.statusCode, 200, 'a moderator pins the current state')

    const thread = (await app.inject({ url: `/api/v1/threads/${threadId}` })).json()
    t.match(thread, { title: 'Fire in datacenter DC-2, room 3', status: 'identified', pinnedPostId: pinnedId, postCount: 3 }, 'a reader sees the current state')
    const { posts } = (await app.inject({ url: `/api/v1/threads/${threadId}/posts` })).json()
    t.same(posts.map((p: { kind: string, shift: string | null }) => [p.kind, p.shift]), [['update', 'evening'], ['comment', null], ['update', 'evening']], 'and every post in order')
  } finally {
    await app.close()
  }

  app = await buildApp(config, NOT_SHEDDING)
  try {
    const thread = (await app.inject({ url: `/api/v1/threads/${threadId}` })).json()
    t.match(thread, { status: 'identified', pinnedPostId: pinnedId, postCount: 3 }, 'after a restart the thread is all there')
    const { posts } = (await app.inject({ url: `/api/v1/threads/${threadId}/posts` })).json()
    t.equal(posts.length, 3, 'with its posts')
    const me = await app.inject({ url: '/api/v1/me', headers: technicianAuth })
    t.equal(me.statusCode, 200, 'and API tokens still work')
  } finally {
    await app.close()
  }
})

t.test('one process at a time opens the embedded database', async (t) => {
  const first = await connectDatabase({ databaseUrl: undefined, dataDir })
  try {
    t.equal(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim(), String(process.pid), 'the lock names its process')
    await t.rejects(connectDatabase({ databaseUrl: undefined, dataDir }), { message: inUse(process.pid) }, 'a second opener is refused, saying why')
    await t.rejects(buildApp(config, NOT_SHEDDING), { message: inUse(process.pid) }, 'and so is a second app')
  } finally {
    await first.close()
  }
  t.notOk(existsSync(join(dataDir, LOCK_FILE)), 'closing releases the lock')

  const again = await connectDatabase({ databaseUrl: undefined, dataDir })
  try {
    t.ok(existsSync(join(dataDir, LOCK_FILE)), 'the database opens again once released, and holds the lock')
    const threads = await again.db.selectFrom('threads').select('id').execute()
    t.ok(threads.length > 0, 'with the data written before')
  } finally {
    await again.close()
  }
})

t.test('a DATA_DIR that cannot hold the database is named as the variable to change', async (t) => {
  const file = join(dataDir, 'not-a-folder')
  writeFileSync(file, 'a file where a folder should be\n')
  await t.rejects(connectDatabase({ databaseUrl: undefined, dataDir: file }), { message: /^DATA_DIR: cannot keep the embedded database in \S+ \(ENOTDIR\)$/ })
})

t.test('a lock left by a process that died is taken over', async (t) => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid
  writeFileSync(join(dataDir, LOCK_FILE), `${dead}\n`)
  const database = await connectDatabase({ databaseUrl: undefined, dataDir })
  try {
    t.equal(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim(), String(process.pid), 'the lock is ours now')
  } finally {
    await database.close()
  }
})

t.test('a lock naming this process\'s own number, which it does not hold, is not taken over: the message says what to check', async (t) => {
  // Pids repeat across containers: another container on the same volume may be writing.
  writeFileSync(join(dataDir, LOCK_FILE), `${process.pid}\n`)
  await t.rejects(connectDatabase({ databaseUrl: undefined, dataDir }), {
    message: new RegExp(`is locked by process ${process.pid}, which is this process's own number: another container using the same DATA_DIR, or a server that stopped without letting go\\. If no other process uses it, delete \\S+${LOCK_FILE}$`)
  })
  t.equal(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim(), String(process.pid), 'the lock is left as it was')
  unlinkSync(join(dataDir, LOCK_FILE))
  const database = await connectDatabase({ databaseUrl: undefined, dataDir })
  try {
    t.equal(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim(), String(process.pid), 'once the operator deletes it, the database opens, and holds the lock')
    t.ok((await database.db.selectFrom('threads').select('id').execute()).length > 0, 'with the data written before')
  } finally {
    await database.close()
  }
})

