import t from 'tap'
import type { Post, Thread } from '../../src/domain/views.ts'
import { PAGE_SIZE } from '../../src/web/routes/pages/shared.ts'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { apiAs, sectionById, signIn, submitForm } from '../helpers/pages.ts'

/** The ids of the posts a thread page shows, in order. */
const shownIds = (html: string): number[] =>
  [...sectionById(html, 'posts').matchAll(/<article[^>]*\sid="p-(\d+)"/g)].map((m) => Number(m[1]))

/** The pager's links, by their words. */
function pager (html: string): Record<string, string> {
  const links: Record<string, string> = {}
  for (const [, href, words] of [...html.matchAll(/<p class="pager">(.*?)<\/p>/gs)].flatMap((p) => [...p[1]!.matchAll(/<a href="([^"]*)"[^>]*>([^<]*)<\/a>/g)])) {
    links[words!] = href!.replaceAll('&amp;', '&')
  }
  return links
}

const growsLive = (html: string) => /id="posts"[^>]*data-complete="true"/.test(html)

t.test('a thread longer than a page opens on its latest posts, and every stretch of it can be read', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const customer = await makeUser(app, 'customer')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Datacenter fire', body: 'Update 1: fire in room 2.' })
  const ids: number[] = [(await apiAs<{ posts: Post[] }>(app, tech, 'GET', `/threads/${thread.id}/posts`)).posts[0]!.id]
  const official: number[] = [...ids]
  // Updates and comments in turn, a page and a bit of them.
  for (let i = 2; ids.length < PAGE_SIZE + 5; i++) {
    const author = i % 2 === 0 ? customer : tech
    const post = await apiAs<Post>(app, author, 'POST', `/threads/${thread.id}/posts`, { body: `Post ${i}` })
    ids.push(post.id)
    if (author === tech) official.push(post.id)
  }
  const path = `/t/${thread.id}`
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await app.inject({ url, headers })
    t.equal(res.statusCode, 200, `${url} answers 200`)
    return res.body
  }

  const latest = await get(path)
  t.same(shownIds(latest), ids.slice(-PAGE_SIZE), 'the thread opens on its latest posts, oldest of them first')
  t.ok(growsLive(latest), 'and that page grows with new posts, live')
  const latestLinks = pager(latest)
  t.same(Object.keys(latestLinks), ['From the first post', 'Earlier posts'], 'it leads to the posts before it')
  // The pager's links keep the thread's own address, with its slug.
  const home = `${path}/datacenter-fire`
  t.equal(latestLinks['Earlier posts'], `${home}?before=${ids.at(-PAGE_SIZE)}`)

  const earlier = await get(latestLinks['Earlier posts']!)
  t.same(shownIds(earlier), ids.slice(0, 5), 'the earlier posts are the five before')
  t.notOk(growsLive(earlier), 'an older stretch does not grow at its end')
  t.same(pager(earlier), { 'Later posts': `${home}?after=${ids[4]}`, 'Latest posts': `${home}#latest` }, 'it leads forward, and back to the end of the latest posts')

  const fromStart = await get(latestLinks['From the first post']!)
  t.same(shownIds(fromStart), ids.slice(0, PAGE_SIZE), 'from the first post: the first page of the thread')
  t.notOk(growsLive(fromStart))
  const later = await get(pager(fromStart)['Later posts']!)
  t.same(shownIds(later), ids.slice(PAGE_SIZE), 'then the rest')
  t.ok(growsLive(later), 'the stretch that reaches the last post grows live')
  t.same(Object.keys(pager(later)), ['From the first post', 'Earlier posts', 'Latest posts'], 'with no later posts to go to')

  const officialPage = await get(`${path}?view=official`)
  t.same(shownIds(officialPage), official.slice(-PAGE_SIZE), 'official updates only: the latest of them')
  t.same(pager(officialPage), {}, 'fewer than a page of them: no pager')

  // A post's own address finds it wherever it is: far back, the stretch that ends with it.
  const first = await app.inject({ url: `/posts/${ids[0]}` })
  t.equal(first.statusCode, 303)
  t.equal(first.headers.location, `${path}?before=${ids[0]! + 1}#p-${ids[0]}`)
  t.same(shownIds(await get(String(first.headers.location).split('#')[0]!)), [ids[0]], 'a stretch that shows it')
  t.equal((await app.inject({ url: `/posts/${ids.at(-1)}` })).headers.location, `${path}#p-${ids.at(-1)}`, 'among the latest, the thread itself')
  t.equal((await app.inject({ url: '/posts/999999' })).statusCode, 404, 'a post that does not exist: not found')

  const french = await get(path, { 'accept-language': 'fr' })
  t.same(Object.keys(pager(french)), ['Depuis le premier message', 'Messages précédents'], 'the pager in French')

  // A technician's update lands where the form sends them back to.
  const cookies = await signIn(app, tech)
  const sent = await submitForm(app, cookies, path, `${path}/posts`, { body: 'Fire out; assessing the damage.', kind: 'update', next: 'none' })
  t.equal(sent.statusCode, 303)
  const [target, anchor] = String(sent.headers.location).split('#')
  const back = await app.inject({ url: target!, cookies })
  t.equal(anchor, `p-${shownIds(back.body).at(-1)}`, 'the page the form goes back to ends with the new update')
  t.match(sectionById(back.body, anchor!), /Fire out; assessing the damage\./)
  t.same(shownIds((await app.inject({ url: path })).body).length, PAGE_SIZE, 'readers still get a page of the latest posts')
})

t.test('a moderator working on an earlier stretch of a thread is brought back to it', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const moderator = await makeUser(app, 'moderator')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Core switch failure', body: 'Switch 1 down.' })
  for (let i = 0; i < PAGE_SIZE + 2; i++) await apiAs<Post>(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: `Check ${i}.` })
  const cookies = await signIn(app, moderator)
  const earlierUrl = `/t/${thread.id}/core-switch-failure?before=5`
  const page = await app.inject({ url: earlierUrl, cookies })
  const old = shownIds(page.body)[0]!
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!
  // Browsers send the address of the page a form was on (Referer) to their own site.
  const referer = `http://localhost:80${earlierUrl}`
  const pin = await app.inject({ method: 'POST', url: `/t/${thread.id}/pin`, cookies, headers: { referer }, payload: { _csrf: csrf, postId: String(old) } })
  t.equal(pin.statusCode, 303)
  t.equal(pin.headers.location, `/t/${thread.id}?before=5#current-state`, 'back to the stretch the moderator was on')
  const refused = await app.inject({ method: 'POST', url: `/t/${thread.id}/pin`, cookies, headers: { referer }, payload: { _csrf: csrf, postId: '999999' } })
  t.equal(refused.statusCode, 400)
  t.same(shownIds(refused.body), shownIds(page.body), 'a refusal shows the same stretch again, the reason on top')
  // An edit of a post of that stretch comes back to the stretch that ends with it; of a recent one, to the latest posts.
  const editForm = await app.inject({ url: `/posts/${old}/edit`, cookies })
  const editCsrf = /name="_csrf" value="([^"]+)"/.exec(editForm.body)![1]!
  const edited = await app.inject({ method: 'POST', url: `/posts/${old}/edit`, cookies, payload: { _csrf: editCsrf, body: 'Check 0, corrected.' } })
  t.equal(edited.headers.location, `/t/${thread.id}?before=${old + 1}#p-${old}`)
  t.ok(shownIds((await app.inject({ url: String(edited.headers.location).split('#')[0]!, cookies })).body).includes(old), 'a page that shows the edited post')
  const recent = shownIds((await app.inject({ url: `/t/${thread.id}`, cookies })).body).at(-1)!
  const recentEdit = await app.inject({ method: 'POST', url: `/posts/${recent}/edit`, cookies, payload: { _csrf: editCsrf, body: 'Latest check, corrected.' } })
  t.equal(recentEdit.headers.location, `/t/${thread.id}#p-${recent}`)
  const elsewhere = await app.inject({ method: 'POST', url: `/t/${thread.id}/unpin`, cookies, headers: { referer: 'https://elsewhere.example/t/1?before=5' }, payload: { _csrf: csrf } })
  t.equal(elsewhere.headers.location, `/t/${thread.id}`, 'another site\'s address leads to the thread itself')
})

t.test('odd pager addresses still give a page', async (t) => {
  const { app } = await buildTestApp(t)
  const tech = await makeUser(app, 'technician')
  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail delayed', body: 'Queue growing.' })
  for (const query of ['before=1', 'before=99999999', 'after=99999999', 'before=abc', 'after=-1', 'before=0', 'after=0&before=5']) {
    const res = await app.inject({ url: `/t/${thread.id}?${query}` })
    t.equal(res.statusCode, 200, `?${query} answers 200`)
    t.match(res.body, /Latest posts|Queue growing/, `?${query} shows posts or the way to the latest`)
  }
})
