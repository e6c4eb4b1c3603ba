import { tooMany } from './errors.ts'

/** Failed sign-ins allowed per account and source address in one window. */
export const FAILED_LOGINS_MAX = 10
export const FAILED_LOGINS_WINDOW_MS = 15 * 60_000

interface Window { startedAt: number, failures: number }

/**
 * Counts failed sign-ins per account *and* source address, checked before any
 * hashing. Keyed on both, so someone guessing a technician's password from
 * elsewhere slows only themselves: the technician, from their own address,
 * can still sign in. A window ends by itself; nothing is ever locked for good.
 * Kept in memory, per instance (the per-address rate limits bound the rest).
 */
export class LoginAttempts {
  private readonly windows = new Map<string, Window>()

  constructor (private readonly now: () => Date, private readonly max = FAILED_LOGINS_MAX, private readonly windowMs = FAILED_LOGINS_WINDOW_MS) {}

  /** Throws 429 with Retry-After when this account has failed too often from this source. */
  check (email: string, source: string): void {
    const window = this.current(email, source)
    if (window !== undefined && window.failures >= this.max) {
      const seconds = Math.max(1, Math.ceil((window.startedAt + this.windowMs - this.now().getTime()) / 1000))
      throw tooMany('rate_limited', 'Too many failed sign-ins for this account. Try again later.', seconds)
    }
  }

  failed (email: string, source: string): void {
    const key = keyOf(email, source)
    const window = this.current(email, source)
    if (window === undefined) this.windows.set(key, { startedAt: this.now().getTime(), failures: 1 })
    else window.failures++
    if (this.windows.size > 100_000) this.prune()
  }

  succeeded (email: string, source: string): void {
    this.windows.delete(keyOf(email, source))
  }

  private current (email: string, source: string): Window | undefined {
    const key = keyOf(email, source)
    const window = this.windows.get(key)
    if (window === undefined) return undefined
    if (this.now().getTime() - window.startedAt >= this.windowMs) {
      this.windows.delete(key)
      return undefined
    }
    return window
  }

  private prune (): void {
    const now = this.now().getTime()
    for (const [key, window] of this.windows) if (now - window.startedAt >= this.windowMs) this.windows.delete(key)
  }
}

const keyOf = (email: string, source: string) => `${email.trim().toLowerCase()}\n${source}`
