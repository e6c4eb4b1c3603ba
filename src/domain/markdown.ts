import MarkdownIt from 'markdown-it'
import sanitizeHtml from 'sanitize-html'

// Raw HTML is off in the parser, and the sanitiser still checks what comes
// out: two locks, so a parser bug alone cannot let a script through.
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false })

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
