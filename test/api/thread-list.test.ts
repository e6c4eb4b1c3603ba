import t from 'tap'
import type { Thread } from '../../src/domain/views.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { act, assertError, assertStatus, openThread, writePost } from '../helpers/api.ts'

// A clock that stands still until a test moves it: every incident has the same activity time, so
// only the id breaks ties and a pager that mishandled them would skip or repeat.
let clock = Date.parse('2026-12-06T10:00:00.000Z')
const { app } = await buildTestApp(t, { now: () => new Date(clock) })
const tech = await makeUser(app, 'technician')

const resolvedIds: number[] = []
for (let i = 0; i < 7; i++) {
  const thread = await openThread(app, tech, { title: `Resolved ${i}` })
  await act(app, tech, 'PATCH', `/api/v1/threads/${thread.id}`, { status: 'resolved' })
  resolvedIds.push(thread.id)
}
const open = [await openThread(app, tech, { title: 'Open A' }), await openThread(app, tech, { title: 'Open B' })]

const list = async (query: string) => {
  const res = await app.inject({ url: `/api/v1/threads${query}` })
  assertStatus(t, res, 200)
  return { threads: res.json().threads as Thread[], next: res.headers.link as string | undefined }
}

t.test('without a query, every open incident and every resolved one, open first', async (t) => {
  const { threads, next } = await list('')
  t.same(threads.map((th) => th.id), [...open.map((th) => th.id).reverse(), ...[...resolvedIds].reverse()])
  t.equal(next, undefined, 'nothing more to fetch')
})

t.test('resolved incidents come a page at a time, and the Link header leads through all of them once', async (t) => {
  const seen: number[] = []
  let page = await list('?limit=3')
  t.same(page.threads.slice(0, 2).map((th) => th.status), ['investigating', 'investigating'], 'the first page starts with the open incidents')
  seen.push(...page.threads.filter((th) => th.status === 'resolved').map((th) => th.id))
  const pages = [page.threads.length]
  while (page.next !== undefined) {
    const target = /^<(\/api\/v1\/threads\?[^>]+)>; rel="next"$/.exec(page.next)?.[1]
    t.ok(target, `a next link: ${page.next}`)
    page = await list(target!.slice('/api/v1/threads'.length))
    t.ok(page.threads.every((th) => th.status === 'resolved'), 'later pages hold resolved incidents only')
    seen.push(...page.threads.map((th) => th.id))
    pages.push(page.threads.length)
  }
  t.same(pages, [5, 3, 1], 'two open and three resolved, then three, then the last one')
  t.same(seen, [...resolvedIds].reverse(), 'each resolved incident once, the latest first')
})

t.test('a page follows on from the one before, even when its last incident had a post since, or reopened', async (t) => {
  const first = await list('?limit=2')
  const mark = first.threads.at(-1)!
  const cursor = /before=([^&>]+)/.exec(first.next!)![1]!
  // A post-mortem on it, an hour later: its activity moves to the top of the list.
  clock += 60 * 60_000
  await writePost(app, tech, mark.id, { body: 'Post-mortem: a failed disk.' })
  const second = await list(`?before=${cursor}&limit=2`)
  t.same(second.threads.map((th) => th.id), [...resolvedIds].reverse().slice(2, 4), 'the next two, not the first page again')
  await act(app, tech, 'PATCH', `/api/v1/threads/${mark.id}`, { status: 'monitoring' })
  t.teardown(async () => { await act(app, tech, 'PATCH', `/api/v1/threads/${mark.id}`, { status: 'resolved' }) })
  t.same((await list(`?before=${cursor}&limit=2`)).threads.map((th) => th.id), [...resolvedIds].reverse().slice(2, 4), 'nor once it reopened')
  t.same((await list('?before=&limit=')).threads, (await list('')).threads, 'empty values ask for the first page, as leaving them out does')
})

t.test('a malformed page is a 400', async (t) => {
  for (const before of ['abc', '12', '1-0', `1-${2 ** 31}`, `${'9'.repeat(17)}-1`]) {
    assertError(t, await app.inject({ url: `/api/v1/threads?before=${before}` }), 400)
  }
  assertError(t, await app.inject({ url: '/api/v1/threads?limit=0' }), 400)
  assertError(t, await app.inject({ url: '/api/v1/threads?limit=501' }), 400)
})
