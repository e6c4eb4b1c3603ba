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
