import type { Test } from 'tap'

/**
 * What this machine lacks for a test (a browser, PostgreSQL's server
 * programs): skipped with the reason, except under CI=true, where it is a
 * failure: CI must never pass by running nothing. Returns false, for
 * `if (!available) return cannotRun(...)`.
 */
export function cannotRun (t: Test, reason: string): false {
  if (process.env.CI === 'true') {
    t.fail(reason)
  } else {
    console.error(`# ${reason}`)
    t.plan(0, reason)
  }
  return false
}
