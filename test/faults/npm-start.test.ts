import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/cluster.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { pause, waitUntil } from '../helpers/server.ts'

// `npm start` is how the README runs Sitrep, and how a service manager may: the
// SIGTERM that stops it must reach the server, which then shuts down gracefully,
// not leave it running on its own with no one to stop it.
t.test('npm start stopped with SIGTERM stops the server, gracefully', async (t) => {
  const database = await createTestDatabase()
  const dataDir = mkdtempSync(join(tmpdir(), 'sitrep-npm-start-'))
  t.teardown(async () => {
    await database.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const port = await freePort()
  const { NODE_OPTIONS: _options, ...inherited } = process.env
  const npm = spawn('npm', ['start'], {
    env: {
      ...inherited,
      PORT: String(port),
      HOST: '127.0.0.1',
      SESSION_SECRET: 'npm-start-test-secret-that-is-long-enough',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      ...(database.databaseUrl !== undefined ? { DATABASE_URL: database.databaseUrl } : { DATABASE_URL: '' })
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own: the teardown ends all of it, a server left behind too.
    detached: true
  })
  let log = ''
  npm.stdout.on('data', (chunk) => { log += String(chunk) })
  npm.stderr.on('data', (chunk) => { log += String(chunk) })
  const npmExited = new Promise((resolve) => npm.once('exit', resolve))
  const serving = () => fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.status === 200, () => false)
  // Whatever happens, nothing is left listening on the port.
  t.teardown(() => {
    try {
      process.kill(-npm.pid!, 'SIGKILL')
    } catch {
      // Every process of the group has ended.
    }
  })

  await waitUntil('the server serves', serving, 60_000)
  npm.kill('SIGTERM')
  await npmExited
  let stillServing = true
  for (let i = 0; i < 100 && stillServing; i++) {
    stillServing = await serving()
    if (stillServing) await pause(100)
  }
  t.notOk(stillServing, 'the server has stopped too')
  t.match(log, /shutting down/i, 'gracefully, saying so')
})
