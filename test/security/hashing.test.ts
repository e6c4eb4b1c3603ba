import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { hashPassword, verifyPassword } from '../../src/domain/passwords.ts'
import { serverBinariesAvailable, startCluster } from '../helpers/cluster.ts'
import { until } from '../helpers/live.ts'
import { startServer } from '../helpers/server.ts'

// Passwords are hashed in a process of their own, at a lower priority than the
// server: a flood of sign-ins takes only the CPU the readers leave.

/** The hashing processes `parent` (by default this test process) started, with their niceness (from /proc). */
function hashers (parent = process.pid): Array<{ pid: number, nice: number }> {
  const found: Array<{ pid: number, nice: number }> = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      // The fields after the command's name, which is in parentheses: ppid is the 2nd, nice the 17th.
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
      if (cmdline.includes('src/hasher.ts') && Number(fields[1]) === parent) found.push({ pid: Number(entry), nice: Number(fields[16]) })
    } catch {
      // Gone meanwhile.
    }
  }
  return found
}

t.test('hashing happens in a process of lower priority, which comes back if it dies', async (t) => {
  const hash = await hashPassword('correct horse battery staple')
  t.match(hash, /^\$argon2id\$/, 'an Argon2id hash')
  t.equal(await verifyPassword(hash, 'correct horse battery staple'), true, 'the password matches')
  t.equal(await verifyPassword(hash, 'wrong horse battery staple'), false, 'another does not')
  t.equal(await verifyPassword('not a hash at all', 'anything'), false, 'a damaged hash matches nothing')

  const [hasher, ...others] = hashers()
  t.ok(hasher !== undefined && others.length === 0, 'one hashing process')
  t.ok(hasher!.nice > 0, `it runs niced (${hasher!.nice}), below the server's 0`)

  process.kill(hasher!.pid, 'SIGKILL')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await verifyPassword(hash, 'correct horse battery staple'), true, 'after it was killed, the next sign-in still works')
  const again = hashers()
  t.equal(again.length, 1, 'through a new hashing process')
  t.not(again[0]?.pid, hasher!.pid)
})

t.test('the server starts its hashing process before the first sign-in, not in the middle of a flood', async (t) => {
  if (!serverBinariesAvailable(t)) return
  const cluster = await startCluster(t)
  const server = await startServer(t, await cluster.createDatabase('sitrep'))
  const pid = server.pid()
  t.ok(pid !== undefined, 'the server runs')
  t.ok(await until(() => hashers(pid).length === 1, 10_000), 'a hashing process of its own, with no sign-in yet')
  t.ok(hashers(pid)[0]!.nice > 0, 'niced')
})

t.test('a hashing process whose server went away while it started ends quietly', async (t) => {
  const { NODE_OPTIONS: _loaders, ...env } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/hasher.ts'], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)), env, stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  let output = ''
  child.stdout!.on('data', (chunk) => { output += String(chunk) })
  child.stderr!.on('data', (chunk) => { output += String(chunk) })
  // As when a server is stopped at once: its end closes the channel.
  child.disconnect()
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.equal(code, 0, 'it ends')
  t.equal(output, '', 'with nothing to say: no stack trace in the server\'s log')
})
