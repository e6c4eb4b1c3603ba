import { AppError } from '../domain/errors.ts'

/** A value made from what the database said of a thread, and when. */
export interface Cached<T> {
  value: T
  madeAt: number
  /** A later event made it wrong; callers serve it only when they cannot wait for the next one. */
  stale: boolean
  /**
   * When making its successor last failed for want of the database; undefined
   * while all is well, and again once it is stale: an event committed since
   * says the database is back, and readers wait for the page with it.
   */
  failedAt?: number
}

/** A value as kept, with the thread whose events make it stale (null: every thread's). */
interface Kept<T> extends Cached<T> { owner: number | null }

/** A value being made, and what its thread had seen when it began. */
interface Making<T> { value: Promise<T>, owner: number | null, generation: number, epoch: number }

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
 * Nor is it handed to anyone who asks after the event: someone told their post
 * is saved must find it on the next page they load. They get a value made
 * after it, begun once the one under way is done: one making at a time per
 * key, however many events come meanwhile.
 */
export class ThreadCache<T> {
  private readonly entries = new Map<string, Kept<T>>()
  private readonly pending = new Map<string, Making<T>>()
  private readonly keysByOwner = new Map<number | null, Set<string>>()
  // Bumped by every event of the owner, and `epoch` by dropAll: a value begun before either is not kept.
  private readonly generations = new Map<number | null, number>()
  private epoch = 0

  constructor (private readonly options: ThreadCacheOptions) {}

  get (key: string): Cached<T> | undefined {
    return this.entries.get(key)
  }

  /** The value of `key` being made since its thread's last event, to wait for; undefined when none is. */
  making (key: string): Promise<T> | undefined {
    const under = this.pending.get(key)
    return under !== undefined && this.current(under) ? under.value : undefined
  }

  /**
   * Makes the value of `key`, or joins the making under way if it began after
   * its thread's last event; one begun before is waited for first.
   */
  make (key: string, owner: number | null, produce: () => Promise<T>): Promise<T> {
    const under = this.pending.get(key)
    if (under !== undefined && this.current(under)) return under.value
    let madeAt = 0
    const start = () => {
      madeAt = this.options.now()
      return produce()
    }
    const making: Making<T> = {
      value: under === undefined ? start() : under.value.then(start, start),
      owner,
      generation: this.generationOf(owner),
      epoch: this.epoch
    }
    this.pending.set(key, making)
    // A making begun before an event may end after the one begun since: it leaves that one be.
    const done = () => { if (this.pending.get(key) === making) this.pending.delete(key) }
    making.value.then((value) => {
      done()
      if (!this.current(making)) return
      this.keep(key, { value, madeAt, stale: false, owner })
    }, (err: unknown) => {
      done()
      // One begun before an event does not say the page kept since then cannot be made.
      const kept = this.entries.get(key)
      if (kept !== undefined && isFailure(err) && this.current(making)) kept.failedAt = this.options.now()
    })
    return making.value
  }

  /** No event of its thread (nor `dropAll`) since it began. */
  private current (making: Making<T>): boolean {
    return this.generationOf(making.owner) === making.generation && this.epoch === making.epoch
  }

  /** An event of this thread: its values and every all-threads value are stale. */
  dropThread (threadId: number): void {
    this.markStale(threadId)
    this.markStale(null)
  }

  dropAll (): void {
    this.epoch++
    for (const entry of this.entries.values()) this.makeStale(entry)
  }

  private generationOf (owner: number | null): number {
    return this.generations.get(owner) ?? 0
  }

  private markStale (owner: number | null): void {
    this.generations.set(owner, this.generationOf(owner) + 1)
    for (const key of this.keysByOwner.get(owner) ?? []) {
      const entry = this.entries.get(key)
      if (entry !== undefined) this.makeStale(entry)
    }
  }

  private makeStale (entry: Kept<T>): void {
    entry.stale = true
    delete entry.failedAt
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
