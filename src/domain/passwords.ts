import argon2 from 'argon2'
import { createLimiter } from './limiter.ts'

// OWASP's argon2id parameters: 19 MiB, two passes, one lane.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export const PASSWORD_MIN = 8
/** Long passphrases are welcome; the bound only keeps hashing cheap to refuse. */
export const PASSWORD_MAX = 1024

/**
 * Each hash takes 19 MiB and tens of milliseconds of a libuv thread: two at a
 * time leave the other threads (and the cores) to the readers during a login
 * flood. A few dozen wait their turn; beyond that the answer is 503 at once.
 */
export const hashing = createLimiter(2, 32)

export const hashPassword = (password: string): Promise<string> => hashing.run(() => argon2.hash(password, OPTIONS))

export async function verifyPassword (hash: string, password: string): Promise<boolean> {
  return await hashing.run(async () => {
    try {
      return await argon2.verify(hash, password)
    } catch {
      return false
    }
  })
}

// Verified against when the e-mail is unknown, so both answers take as long.
let decoyHash: Promise<string> | undefined
export function decoyVerify (password: string): Promise<boolean> {
  decoyHash ??= hashPassword('decoy password that matches nobody')
  return decoyHash.then((hash) => verifyPassword(hash, password)).then(() => false)
}
