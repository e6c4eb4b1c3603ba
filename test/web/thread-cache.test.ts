import t from 'tap'
import { ThreadCache } from '../../src/web/thread-cache.ts'

// What readers would see go wrong if the bookkeeping did: a page evicted, made
// again, then left unmarked by its thread's next event, served stale.

t.test('an entry evicted and made again is still dropped by its thread\'s next event', async (t) => {
  const cache = new ThreadCache<string>({ maxEntries: 2, now: () => 0 })
  await cache.make('a', 1, async () => 'page a')
  await cache.make('b', 2, async () => 'page b')
  await cache.make('c', 2, async () => 'page c')
  t.equal(cache.get('a'), undefined, 'the longest kept went first')
  await cache.make('a', 1, async () => 'page a again')
  t.equal(cache.get('b'), undefined)
  cache.dropThread(1)
  t.equal(cache.get('a')?.stale, true, 'made again, dropped by its thread\'s event')
  t.equal(cache.get('c')?.stale, false, 'another thread\'s page is not')
  cache.dropThread(2)
  t.equal(cache.get('c')?.stale, true)
})

t.test('a value made while its thread had an event is not kept', async (t) => {
  const cache = new ThreadCache<string>({ maxEntries: 10, now: () => 0 })
  let finish: (value: string) => void = () => {}
  const making = cache.make('a', 1, () => new Promise((resolve) => { finish = resolve }))
  cache.dropThread(1)
  finish('made before the event')
  t.equal(await making, 'made before the event', 'the readers waiting get it')
  t.equal(cache.get('a'), undefined, 'but it is not kept')
})

t.test('a value begun before its thread\'s event is not handed to anyone who asks after it', async (t) => {
  const cache = new ThreadCache<string>({ maxEntries: 10, now: () => 0 })
  let finishOld: (value: string) => void = () => {}
  const old = cache.make('a', 1, () => new Promise((resolve) => { finishOld = resolve }))
  t.equal(cache.making('a'), old, 'before the event, a reader waits for the page under way')
  cache.dropThread(1)
  t.equal(cache.making('a'), undefined, 'after it, nobody is led to the page begun before')
  let begun = 0
  let finishNew: (value: string) => void = () => {}
  const fresh = cache.make('a', 1, () => { begun++; return new Promise((resolve) => { finishNew = resolve }) })
  t.not(fresh, old, 'a reader who asks after the event gets a page made after it')
  t.equal(cache.making('a'), fresh)
  t.equal(cache.make('a', 1, async () => 'a third'), fresh, 'and those after them join it')
  t.equal(begun, 0, 'begun once the one under way is done: one at a time')
  finishOld('without it')
  t.equal(await old, 'without it', 'the readers who asked before the event get theirs')
  t.equal(cache.get('a'), undefined, 'and it is not kept')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(begun, 1)
  finishNew('with the new post')
  t.equal(await fresh, 'with the new post')
  t.equal(cache.get('a')?.value, 'with the new post', 'the page kept is the one made after the event')
  t.equal(cache.making('a'), undefined)
})

t.test('a making that failed is no reason for the next one to fail', async (t) => {
  const cache = new ThreadCache<string>({ maxEntries: 10, now: () => 0 })
  const failing = cache.make('a', 1, async () => { throw new Error('database away') })
  cache.dropThread(1)
  const next = cache.make('a', 1, async () => 'made')
  await t.rejects(failing)
  t.equal(await next, 'made')
  t.equal(cache.get('a')?.value, 'made')
})

t.test('after dropAll too, nobody is led to a value begun before', async (t) => {
  const cache = new ThreadCache<string>({ maxEntries: 10, now: () => 0 })
  const old = cache.make('list', null, () => new Promise(() => {}))
  cache.dropAll()
  t.equal(cache.making('list'), undefined)
  t.not(cache.make('list', null, async () => 'new list'), old)
})

t.test('a page kept while the database was away is served "as of" no longer once an event commits', async (t) => {
  const cache = new ThreadCache<string>({ maxEntries: 10, now: () => 5 })
  await cache.make('a', 1, async () => 'page')
  await t.rejects(cache.make('a', 1, async () => { throw new Error('database away') }))
  t.equal(cache.get('a')?.failedAt, 5, 'a failed making marks the kept page: it is served as of when it was made')
  let fail: (err: Error) => void = () => {}
  const begunBefore = cache.make('a', 1, () => new Promise((_resolve, reject) => { fail = reject }))
  cache.dropThread(1)
  t.equal(cache.get('a')?.failedAt, undefined, 'the event says the database is back: readers wait for the page with it')
  fail(new Error('database away'))
  await t.rejects(begunBefore)
  t.equal(cache.get('a')?.failedAt, undefined, 'nor does a making begun before the event mark it again')
})
