import fc from 'fast-check'
import t from 'tap'
import { renderMarkdown, sanitize } from '../../src/domain/markdown.ts'
import { BODY_MAX } from '../../src/domain/posts.ts'
import { dangersIn } from '../helpers/api.ts'
import { NAUGHTY_STRINGS, XSS_PAYLOADS } from '../helpers/hostile.ts'

// Pieces that make the parser and the sanitiser work hard: raw HTML, link
// syntax, schemes, entities, code fences, tables and stray control characters.
const FRAGMENTS = [
  '<', '>', '</', '/>', '"', "'", '`', '```', '~~~', '\n', '\n\n', '\t', ' ', '\u0000', '\u200b', '\r\n',
  '[', ']', '(', ')', '![', '](', '[ref]: ', '<http://', '*', '_', '**', '#', '> ', '- ', '1. ', '|', '|---|', ':-:',
  'script', '<script>', '</script>', '<img src=x onerror=alert(1)>', '<svg onload=alert(1)>', 'onerror=', 'style=',
  'javascript:', 'JaVaScRiPt:', 'java\tscript:', 'data:text/html;base64,PHNjcmlwdD4=', 'vbscript:', 'http://', 'https://example.org', 'mailto:a@b.c', '//evil.example',
  '&', '&amp;', '&lt;', '&gt;', '&quot;', '&#106;', '&#x6A;', '&colon;', '&#0;', '&nbsp;', '\\', 'alert(1)', 'x', 'é', '🔥'
]
const markdownish = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join(''))
const anything = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 200 }), markdownish)

t.test('renderMarkdown never throws, and its output is already sanitised', async (t) => {
  const details = fc.check(fc.property(anything, (source) => {
    const html = renderMarkdown(source)
    return typeof html === 'string' && sanitize(html) === html
  }), { numRuns: 2000 })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? '2000 inputs rendered to a fixed point of sanitize')
  t.equal(details.numRuns, 2000, 'every input was tried')
})

t.test('nothing renderMarkdown produces can run script', async (t) => {
  const details = fc.check(fc.property(anything, (source) => dangersIn(renderMarkdown(source)).length === 0), { numRuns: 2000 })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? '2000 inputs rendered harmless')
  t.equal(details.numRuns, 2000, 'every input was tried')
})

t.test('the known attacks render harmless and keep their text', async (t) => {
  for (const source of ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '<svg onload=alert(1)>']) {
    const html = renderMarkdown(source)
    t.same(dangersIn(html), [], source)
    t.match(html, /&lt;/, 'shown as text')
  }
  for (const source of ['[x](javascript:alert(1))', '[y](data:text/html;base64,PHNjcmlwdD4=)']) {
    const html = renderMarkdown(source)
    t.same(dangersIn(html), [], source)
    t.notMatch(html, /<a\b/, 'no link is made')
  }
})

t.test('links carry rel=nofollow and only safe schemes', async (t) => {
  t.equal(renderMarkdown('[a](https://example.org)'), '<p><a href="https://example.org" rel="nofollow noopener noreferrer ugc">a</a></p>')
  t.match(renderMarkdown('[m](mailto:noc@example.org)'), /href="mailto:noc@example\.org"/)
  t.notMatch(renderMarkdown('[p](//evil.example/x)'), /href="\/\/evil/, 'no protocol-relative link')
})

t.test('sanitize takes out what renderMarkdown would never make', async (t) => {
  t.same(dangersIn(sanitize('<p onclick="x()">a</p><script>alert(1)</script><a href="javascript:alert(1)">b</a><img src=x>')), [])
  t.equal(sanitize('<p onclick="x()">a</p>'), '<p>a</p>')
})

t.test('the danger check itself sees danger', async (t) => {
  const dangerous = [
    '<script>alert(1)</script>',
    '<p><img src=x onerror=alert(1)></p>',
    '<svg onload=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href=" JAVASCRIPT:alert(1)">x</a>',
    "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>",
    '<p style="position:fixed">x</p>',
    '<a title="x" onmouseover="alert(1)">x</a>'
  ]
  for (const html of dangerous) t.not(dangersIn(html).length, 0, html)
  const harmless = [
    '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    '<p><a href="https://example.org" title="a&quot; onmouseover=&quot;alert(1)">x</a></p>',
    '<p>[x](javascript:alert(1))</p>',
    '<td style="text-align:center">1</td>'
  ]
  for (const html of harmless) t.same(dangersIn(html), [], html)
})

/** Why a rendering is wrong, or null: it must be a fixed point of sanitize and run nothing. */
function flawOf (source: string): string | null {
  const html = renderMarkdown(source)
  if (sanitize(html) !== html) return `re-sanitising changes ${JSON.stringify(html.slice(0, 200))}`
  const dangers = dangersIn(html)
  return dangers.length === 0 ? null : `${dangers.join(', ')} in ${JSON.stringify(html.slice(0, 200))}`
}

t.test('every naughty string and every payload of the browser tests renders harmless and stays as rendered', async (t) => {
  const flawed = [...NAUGHTY_STRINGS, ...XSS_PAYLOADS]
    .map((source) => ({ source, flaw: flawOf(source) }))
    .filter((result) => result.flaw !== null)
  t.same(flawed, [], `${NAUGHTY_STRINGS.length + XSS_PAYLOADS.length} strings rendered`)
})

t.test('payloads and naughty strings mixed into Markdown render harmless and stay as rendered', async (t) => {
  const mixed = fc.array(fc.oneof(fc.constantFrom(...XSS_PAYLOADS), fc.constantFrom(...NAUGHTY_STRINGS), fc.constantFrom(...FRAGMENTS)), { maxLength: 30 })
    .map((parts) => parts.join(''))
  const details = fc.check(fc.property(mixed, (source) => {
    const flaw = flawOf(source)
    if (flaw !== null) throw new Error(flaw)
  }), { numRuns: 1000, includeErrorInReport: true })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? '1000 mixtures rendered harmless')
  t.equal(details.numRuns, 1000, 'every mixture was tried')
})

t.test('a post as long as allowed, made of one construct over and over, renders without throwing and stays harmless', async (t) => {
  // Deep nesting, unclosed brackets and fences, long runs of emphasis markers, entities and tables.
  const CONSTRUCTS = ['>', '> - ', '- [', '1. ', '[', '![', '](', '[a](', '`', '```\n', '*a', '_a_', '<', '&#', '\\', '|-|\n', '<http://', 'http://a.b/', '[x]: ', '<a ', '](javascript:alert(1))', '\u0000', '\u202e']
  const repeated = fc.tuple(fc.constantFrom(...CONSTRUCTS), fc.integer({ min: 1, max: BODY_MAX }))
    .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length))
  const details = fc.check(fc.property(repeated, (source) => {
    const flaw = flawOf(source)
    if (flaw !== null) throw new Error(flaw)
  }), { numRuns: 40, includeErrorInReport: true })
  t.equal(details.failed, false, fc.defaultReportMessage(details) ?? '40 long repetitions rendered harmless')
  t.equal(details.numRuns, 40, 'every repetition was tried')
})

t.test('a post\'s headings sit under the page\'s, and an image is a link named by its text', async (t) => {
  t.equal(renderMarkdown('# Status\n\n## Details\n\n### Done\n\n#### Deeper'), '<h3>Status</h3>\n<h3>Details</h3>\n<h3>Done</h3>\n<h4>Deeper</h4>', 'h1 and h2 are the page\'s own')
  t.equal(renderMarkdown('Map: ![the flooded room](https://example.org/room.jpg)'), '<p>Map: <a href="https://example.org/room.jpg" rel="nofollow noopener noreferrer ugc">the flooded room</a></p>', 'the alt text is kept, as a link')
  t.equal(renderMarkdown('![](https://example.org/a.png)'), '<p><a href="https://example.org/a.png" rel="nofollow noopener noreferrer ugc">https://example.org/a.png</a></p>', 'with no alt text, the address')
  t.equal(renderMarkdown('![x](javascript:alert(1))'), '<p>![x](javascript:alert(1))</p>', 'an image with a dangerous address stays text')
})
