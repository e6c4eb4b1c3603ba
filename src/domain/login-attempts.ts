import { tooMany } from './errors.ts'

/** Failed sign-ins allowed per account and source address in one window. */
export const FAILED_LOGINS_MAX = 10
export const FAILED_LOGINS_WINDOW_MS = 15 * 60_000
/**
 * Failed sign-ins allowed per account from every address together in one
 * window, before browsers the account has not signed in from must wait.
 * Far above what one forgetful person reaches; it bounds guessing spread
 * over many addresses.
 */
export const ACCOUNT_FAILURES_MAX = 50

interface Window { startedAt: number, failures: number }

/**
 * Counts failed sign-ins, checked before any hashing, on two keys:
 *
 * - per account *and* source address: someone guessing a technician's
 *   password from elsewhere slows only themselves; the technician, from
 *   their own address, can still sign in;
 * - per account, from everywhere: guesses spread over many addresses are
 *   bounded too. This one does not stop a *known* browser (one the account
 *   signed in from before, or the user's own session), so an attacker who
 *   reaches it still cannot keep the technician out.
 *
 * Windows end by themselves; nothing is ever locked for good. Kept in
 * memory, per instance (the per-address rate limits bound the rest).
 */
export class LoginAttempts {
  private readonly pairs = new Map<string, Window>()
  private readonly accounts = new Map<string, Window>()

  constructor (
    private readonly now: () => Date,
    private readonly max = FAILED_LOGINS_MAX,
    private readonly windowMs = FAILED_LOGINS_WINDOW_MS,
    private readonly accountMax = ACCOUNT_FAILURES_MAX
  ) {}

  /**
   * Throws 429 with Retry-After when this account has failed too often from
   * this source, or, for a browser it has never signed in from, from anywhere.
   */
  check (email: string, source: string, knownBrowser = false): void {
    const pair = this.current(this.pairs, pairKey(email, source))
    if (pair !== undefined && pair.failures >= this.max) throw this.refusal(pair)
    if (knownBrowser) return
    const account = this.current(this.accounts, accountKey(email))
    if (account !== undefined && account.failures >= this.accountMax) throw this.refusal(account)
  }

  failed (email: string, source: string): void {
    this.count(this.pairs, pairKey(email, source))
    this.count(this.accounts, accountKey(email))
  }

  /** Clears this source's count; the account's stays, as guesses from elsewhere may go on. */
  succeeded (email: string, source: string): void {
    this.pairs.delete(pairKey(email, source))
  }

  private refusal (window: Window) {
    const seconds = Math.max(1, Math.ceil((window.startedAt + this.windowMs - this.now().getTime()) / 1000))
    return tooMany('rate_limited', 'Too many failed sign-ins for this account. Try again later.', seconds)
  }

  private count (windows: Map<string, Window>, key: string): void {
    const window = this.current(windows, key)
    if (window === undefined) windows.set(key, { startedAt: this.now().getTime(), failures: 1 })
    else window.failures++
    if (windows.size > 100_000) this.prune(windows)
  }

  private current (windows: Map<string, Window>, key: string): Window | undefined {
    const window = windows.get(key)
    if (window === undefined) return undefined
    if (this.now().getTime() - window.startedAt >= this.windowMs) {
      windows.delete(key)
      return undefined
    }
    return window
  }

  private prune (windows: Map<string, Window>): void {
    const now = this.now().getTime()
    for (const [key, window] of windows) if (now - window.startedAt >= this.windowMs) windows.delete(key)
  }
}

const accountKey = (email: string) => email.trim().toLowerCase()
const pairKey = (email: string, source: string) => `${accountKey(email)}\n${source}`
