import { AppError } from '../domain/errors.ts'

/** A value made from what the database said of a thread, and when. */
export interface Cached<T> {
  value: T
  madeAt: number
  /** A later event made it wrong; callers serve it only when they cannot wait for the next one. */
  stale: boolean
  /** When making its successor last failed for want of the database; undefined while all is well. */
  failedAt?: number
}

/** A value as kept, with the thread whose events make it stale (null: every thread's). */
interface Kept<T> extends Cached<T> { owner: number | null }

export interface ThreadCacheOptions {
  /** The most values kept; the longest kept goes first. */
  maxEntries: number
  /** The clock (the app's, which tests move). */
  now: () => number
}

/** A database failure, as opposed to a refusal the value itself gives (not found, say). */
export const isFailure = (err: unknown): boolean =>
  !(err instanceof AppError) && (err as { statusCode?: number }).statusCode === undefined

/**
 * Values computed from threads (rendered pages, a thread's posts), each kept
 * until an event of its thread, or of any thread for values that show them
 * all (owner null). Concurrent requests for a missing value make it once, and
 * a value made while an event committed is not kept: it may predate the event.
 */
export class ThreadCache<T> {
  private readonly entries = new Map<string, Kept<T>>()
  private readonly pending = new Map<string, Promise<T>>()
  private readonly keysByOwner = new Map<number | null, Set<string>>()
  // Bumped by every event of the owner, and `epoch` by dropAll: a value begun before either is not kept.
  private readonly generations = new Map<number | null, number>()
  private epoch = 0

  constructor (private readonly options: ThreadCacheOptions) {}

  get (key: string): Cached<T> | undefined {
    return this.entries.get(key)
  }

  /** The value of `key` being made, to wait for; undefined when none is. */
  making (key: string): Promise<T> | undefined {
    return this.pending.get(key)
  }

  /** Makes the value of `key`, or joins the making already under way. */
  make (key: string, owner: number | null, produce: () => Promise<T>): Promise<T> {
    const under = this.pending.get(key)
    if (under !== undefined) return under
    const generation = this.generationOf(owner)
    const epoch = this.epoch
    const madeAt = this.options.now()
    const making = produce()
    this.pending.set(key, making)
    making.then((value) => {
      this.pending.delete(key)
      if (this.generationOf(owner) !== generation || this.epoch !== epoch) return
      this.keep(key, { value, madeAt, stale: false, owner })
    }, (err: unknown) => {
      this.pending.delete(key)
      const kept = this.entries.get(key)
      if (kept !== undefined && isFailure(err)) kept.failedAt = this.options.now()
    })
    return making
  }

  /** An event of this thread: its values and every all-threads value are stale. */
  dropThread (threadId: number): void {
    this.markStale(threadId)
    this.markStale(null)
  }

  dropAll (): void {
    this.epoch++
    for (const entry of this.entries.values()) entry.stale = true
  }

  private generationOf (owner: number | null): number {
    return this.generations.get(owner) ?? 0
  }

  private markStale (owner: number | null): void {
    this.generations.set(owner, this.generationOf(owner) + 1)
    for (const key of this.keysByOwner.get(owner) ?? []) {
      const entry = this.entries.get(key)
      if (entry !== undefined) entry.stale = true
    }
  }

  private keep (key: string, entry: Kept<T>): void {
    this.forget(key)
    this.entries.set(key, entry)
    let keys = this.keysByOwner.get(entry.owner)
    if (keys === undefined) this.keysByOwner.set(entry.owner, keys = new Set())
    keys.add(key)
    if (this.entries.size > this.options.maxEntries) this.forget(this.entries.keys().next().value!)
  }

  /** Forgotten everywhere: an event's cost stays that of the entries kept. */
  private forget (key: string): void {
    const entry = this.entries.get(key)
    if (entry === undefined) return
    this.entries.delete(key)
    this.keysByOwner.get(entry.owner)?.delete(key)
  }
}
