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
/**
 * Password checks of one account under way at once, for browsers it has not
 * signed in from. A person signs in once (twice, with a double click); a
 * flood aimed at one account would otherwise fill the hashing queue with its
 * guesses, and a hash is the dearest thing a request can ask of the server.
 */
export const ACCOUNT_CHECKS_AT_ONCE = 2

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
  /** Password checks under way, per account. */
  private readonly checking = new Map<string, number>()

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

  /**
   * Checks a password through `verify` (which answers null when it is
   * wrong), after `check`, and counts the outcome. While ACCOUNT_CHECKS_AT_ONCE
   * of the account's checks are under way, a browser it has not signed in
   * from is refused 429 at once: a flood aimed at one account hashes a couple
   * of guesses at a time, and its owner, in their own browser, never waits.
   */
  async verify<T> (email: string, source: string, knownBrowser: boolean, verify: () => Promise<T | null>): Promise<T | null> {
    this.check(email, source, knownBrowser)
    const key = accountKey(email)
    const underWay = this.checking.get(key) ?? 0
    if (!knownBrowser && underWay >= ACCOUNT_CHECKS_AT_ONCE) {
      throw tooMany('rate_limited', 'Too many sign-ins for this account at once. Try again in a moment.', 1)
    }
    this.checking.set(key, underWay + 1)
    try {
      const result = await verify()
      if (result === null) this.failed(email, source)
      else this.succeeded(email, source)
      return result
    } finally {
      const left = this.checking.get(key)! - 1
      if (left === 0) this.checking.delete(key)
      else this.checking.set(key, left)
    }
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
