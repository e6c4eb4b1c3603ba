import type { Actor } from './actors.ts'

/**
 * Credentials already checked (sessions, API tokens), so that a signed-in
 * reader's reloads, or a script's polling, cost no query: each is kept while
 * `stillGood` says so (until its last use is due to be written again, a
 * minute), and dropped as soon as the database announces a change to its user
 * (`AUTH_CHANNEL`: a sign-out, a revoked token, a password or role change, a
 * rename, on any instance, by any means), or the moment this instance stops
 * hearing those announcements. It serves only what cannot change anything (a
 * read); a request that changes something checks its credential in the
 * database, whatever is kept.
 */
export class KeptCredentials<T extends { actor: Actor }> {
  private readonly kept = new Map<string, T>()
  private readonly tokensOf = new Map<number, Set<string>>()
  // Moves with every announcement: a lookup under way when one came may have
  // read what it announced the end of, and is not kept.
  private generation = 0

  constructor (
    private readonly hearsEveryChange: () => boolean,
    private readonly stillGood: (kept: T, now: Date) => boolean,
    private readonly maxEntries = 50_000
  ) {}

  /** What is kept for `token`, if it may still be served without asking the database. */
  get (token: string, now: Date): T | undefined {
    const kept = this.kept.get(token)
    return kept !== undefined && this.hearsEveryChange() && this.stillGood(kept, now) ? kept : undefined
  }

  /** What `token` stands for, as `read` finds it in the database; kept if it may be. */
  async lookUp (token: string, read: () => Promise<T | null>): Promise<T | null> {
    const generation = this.generation
    const found = await read()
    this.forget(token)
    if (found !== null && generation === this.generation && this.hearsEveryChange()) this.keep(token, found)
    return found
  }

  /** The user changed, or their credentials ended: what is kept of them goes. */
  dropUser (userId: number): void {
    this.generation++
    for (const token of this.tokensOf.get(userId) ?? []) this.kept.delete(token)
    this.tokensOf.delete(userId)
  }

  dropAll (): void {
    this.generation++
    this.kept.clear()
    this.tokensOf.clear()
  }

  private keep (token: string, credential: T): void {
    if (this.kept.size >= this.maxEntries) {
      // The longest kept goes first.
      const [oldest] = this.kept.keys()
      this.forget(oldest!)
    }
    this.kept.set(token, credential)
    const tokens = this.tokensOf.get(credential.actor.id)
    if (tokens === undefined) this.tokensOf.set(credential.actor.id, new Set([token]))
    else tokens.add(token)
  }

  /** This credential is read from the database next time. */
  forget (token: string): void {
    const credential = this.kept.get(token)
    if (credential === undefined) return
    this.kept.delete(token)
    const tokens = this.tokensOf.get(credential.actor.id)
    tokens?.delete(token)
    if (tokens?.size === 0) this.tokensOf.delete(credential.actor.id)
  }
}
