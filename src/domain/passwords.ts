import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import argon2 from 'argon2'
import { createLimiter } from './limiter.ts'

// OWASP's argon2id parameters: 19 MiB, two passes, one lane.
export const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export const PASSWORD_MIN = 8
/** Long passphrases are welcome; the bound only keeps hashing cheap to refuse. */
export const PASSWORD_MAX = 1024

/** Hashes computed at once; the hashing process has as many threads. */
export const HASHES_AT_ONCE = 2

/**
 * Each hash takes 19 MiB and 20-50 ms of CPU: two at a time, and a few
 * dozen waiting their turn; beyond that the answer is 503 at once.
 */
export const hashing = createLimiter(HASHES_AT_ONCE, 32)

type HashWork = { op: 'hash', password: string } | { op: 'verify', hash: string, password: string }
export type HashRequest = HashWork & { id: number }
export type HashReply = { id: number, value: string | boolean } | { id: number, error: string }

/**
 * How much lower than the server the hashing process runs (`nice`): on a busy
 * machine it takes what the readers leave, so a sign-in flood slows sign-ins,
 * not pages. On an idle core it runs at full speed. 19 (the lowest) made no
 * difference to readers beside a flood, and sign-ins on a busy machine crawled.
 */
const NICENESS = 10
const HASHER = fileURLToPath(new URL('../hasher.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Waiting { resolve: (value: string | boolean) => void, reject: (err: Error) => void }

/** The hashing process, started at the first hash, again if it died; one per process that hashes. */
let hasher: { child: ChildProcess, ready: Promise<void>, waiting: Map<number, Waiting> } | undefined
let nextId = 1
/** Set by a long-lived process (the server): its hashing process warms its threads at start, again if it comes back. */
let warmAtStart = false

function startHasher (): NonNullable<typeof hasher> {
  // Without this process's loaders (a test runner's), as `npm start` runs.
  const { NODE_OPTIONS: _loaders, ...env } = process.env
  const child = spawn('nice', ['-n', String(NICENESS), process.execPath, '--import', 'tsx', HASHER, ...(warmAtStart ? ['--warm'] : [])], {
    cwd: ROOT, env: { ...env, UV_THREADPOOL_SIZE: String(HASHES_AT_ONCE) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const waiting = new Map<number, Waiting>()
  const started = { child, waiting, ready: Promise.resolve() }
  started.ready = new Promise<void>((resolve, reject) => {
    // Could not be started (no `nice`?): the next hash tries again.
    child.once('error', (err) => {
      if (hasher === started) hasher = undefined
      reject(err)
    })
    child.on('message', (reply: HashReply) => {
      if (reply.id === 0) return resolve()
      const waiter = waiting.get(reply.id)
      if (waiter === undefined) return
      waiting.delete(reply.id)
      if ('error' in reply) waiter.reject(new Error(reply.error))
      else waiter.resolve(reply.value)
      // Idle, the channel does not keep this process running.
      if (waiting.size === 0) child.channel?.unref()
    })
    child.once('exit', (code, signal) => {
      if (hasher === started) hasher = undefined
      const gone = new Error(`the password-hashing process ended (${signal ?? code})`)
      reject(gone)
      for (const waiter of waiting.values()) waiter.reject(gone)
      waiting.clear()
    })
  })
  started.ready.catch(() => {})
  // Neither the process nor, while idle, its channel keeps this process running.
  child.unref()
  child.channel?.unref()
  return started
}

/**
 * Starts the hashing process now, not at the first sign-in, its threads
 * warmed: a server pays for both before readers come, not in the middle of a
 * sign-in flood. Resolves when it is ready; rejects when it could not be
 * started (the next hash tries again).
 */
export function startHashing (): Promise<void> {
  warmAtStart = true
  hasher ??= startHasher()
  return hasher.ready
}

async function inHasher (work: HashWork): Promise<string | boolean> {
  hasher ??= startHasher()
  const { child, ready, waiting } = hasher
  child.channel?.ref()
  try {
    await ready
  } catch (err) {
    if (waiting.size === 0) child.channel?.unref()
    throw err
  }
  const id = nextId++
  return await new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject })
    child.send({ ...work, id } satisfies HashRequest)
  })
}

export const hashPassword = (password: string): Promise<string> =>
  hashing.run(async () => await inHasher({ op: 'hash', password }) as string)

export async function verifyPassword (hash: string, password: string): Promise<boolean> {
  return await hashing.run(async () => await inHasher({ op: 'verify', hash, password }) === true)
}

// Verified against when the e-mail is unknown, so both answers take as long.
let decoyHash: Promise<string> | undefined
export function decoyVerify (password: string): Promise<boolean> {
  decoyHash ??= hashPassword('decoy password that matches nobody').catch((err: unknown) => {
    decoyHash = undefined
    throw err
  })
  return decoyHash.then((hash) => verifyPassword(hash, password)).then(() => false)
}
