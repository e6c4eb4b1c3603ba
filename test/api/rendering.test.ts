import t, { type Test } from 'tap'
import { buildTestApp, makeUser } from '../helpers/app.ts'
import { act, dangersIn, openThread, readPosts, writePost } from '../helpers/api.ts'

function assertHarmless (t: Test, html: string, source: string): void {
  t.same(dangersIn(html), [], `nothing that runs in ${JSON.stringify(source)}`, { html })
}

const ATTACKS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '[x](javascript:alert(1))',
  '<svg onload=alert(1)>',
  '[y](data:text/html;base64,PHNjcmlwdD4=)',
  '[z](JaVaScRiPt:alert(1))',
  '[w](  javascript:alert(1))',
  '[v](java\tscript:alert(1))',
  '[u](&#106;avascript:alert(1))',
  '![i](javascript:alert(1))',
  '<a href="javascript:alert(1)">a</a>',
  '[r]: javascript:alert(1)\n\n[ref][r]',
  '<javascript:alert(1)>',
  '`<script>alert(1)</script>`',
  '```html\n<script>alert(1)</script>\n```',
  '<iframe src="https://evil.example"></iframe>',
  '"><script>alert(1)</script>',
  '[t](https://example.org "a\\" onmouseover=\\"alert(1)")'
]

const { app } = await buildTestApp(t)
const tech = await makeUser(app, 'technician')
const customer = await makeUser(app, 'customer')
const thread = await openThread(app, tech)

t.test('hostile posts render as harmless HTML', async (t) => {
  for (const body of ATTACKS) {
    const post = await writePost(app, customer, thread.id, { body })
    assertHarmless(t, post.html!, body)
  }
  const stored = await readPosts(app, thread.id, null, '?kind=comment')
  t.equal(stored.length, ATTACKS.length)
  for (const post of stored) assertHarmless(t, post.html!, post.body!)
})

t.test('the text of a hostile post is shown, not run', async (t) => {
  const post = await writePost(app, customer, thread.id, { body: '<script>alert(1)</script>' })
  t.match(post.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'the reader sees what was typed')
  t.equal(post.body, '<script>alert(1)</script>', 'the body is kept as written')
})

t.test('an edit is rendered as safely as a new post', async (t) => {
  const post = await writePost(app, customer, thread.id, { body: 'Harmless' })
  for (const body of ATTACKS) {
    const res = await act(app, customer, 'PATCH', `/api/v1/posts/${post.id}`, { body })
    assertHarmless(t, res.json().html, body)
  }
})

t.test('ordinary Markdown still works', async (t) => {
  const post = await writePost(app, tech, thread.id, { body: '**Status**: see [the dashboard](https://status.example.org) or https://example.org/x\n\n- one\n- two' })
  t.match(post.html, /<strong>Status<\/strong>/)
  t.match(post.html, /<a href="https:\/\/status\.example\.org" rel="nofollow noopener noreferrer ugc">the dashboard<\/a>/)
  t.match(post.html, /<a href="https:\/\/example\.org\/x"/, 'a bare address becomes a link')
  t.match(post.html, /<ul>\s*<li>one<\/li>\s*<li>two<\/li>\s*<\/ul>/)
})
