import MarkdownIt from 'markdown-it'
import sanitizeHtml from 'sanitize-html'

// Raw HTML is off in the parser, and the sanitiser still checks what comes
// out: two locks, so a parser bug alone cannot let a script through.
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false })

// A post's headings sit under the page's own (its title, h1; its sections,
// h2): "#" and "##" in a post are h3 too, as "###" (a handover's sections)
// is, so a screen reader's outline holds.
markdown.core.ruler.push('post_headings', (state) => {
  for (const token of state.tokens) {
    if ((token.type === 'heading_open' || token.type === 'heading_close') && Number(token.tag.slice(1)) < 3) token.tag = 'h3'
  }
})

// Posts show no images (a crowd's pages stay light, and nothing loads from
// elsewhere): an image becomes a link to it, named by its alt text.
markdown.renderer.rules.image = (tokens, index, options, env, self) => {
  const token = tokens[index]!
  const src = String(token.attrGet('src') ?? '')
  const alt = self.renderInlineAsText(token.children ?? [], options, env)
  return `<a href="${markdown.utils.escapeHtml(src)}">${markdown.utils.escapeHtml(alt === '' ? src : alt)}</a>`
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'p', 'br', 'hr', 'strong', 'em', 's', 'code', 'pre', 'blockquote',
    'ul', 'ol', 'li', 'a', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'table', 'thead', 'tbody', 'tr', 'th', 'td'
  ],
  allowedAttributes: {
    a: ['href', 'title', 'rel'],
    ol: ['start']
  },
  // No style attributes: the content security policy would drop them anyway.
  allowedStyles: {},
  allowedSchemes: ['http', 'https', 'mailto'],
  allowProtocolRelative: false,
  transformTags: {
    a: sanitizeHtml.simpleTransform('a', { rel: 'nofollow noopener noreferrer ugc' })
  }
}

/** Markdown to safe HTML; run once, when a post is written or edited. */
export function renderMarkdown (source: string): string {
  return sanitizeHtml(markdown.render(source), SANITIZE).trim()
}

/** Re-sanitises HTML; renderMarkdown's output is a fixed point of it. */
export function sanitize (html: string): string {
  return sanitizeHtml(html, SANITIZE).trim()
}
