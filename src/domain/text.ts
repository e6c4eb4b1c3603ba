import { badRequest } from './errors.ts'

/**
 * The characters XML 1.0 forbids, U+0000 apart: control characters that show
 * as nothing (a terminal's colour codes pasted with its output, say). An Atom
 * feed carrying one is refused whole by feed readers.
 */
export const INVISIBLE_CONTROLS = /[\u0001-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g

/**
 * A text as PostgreSQL can keep it, and XML can carry. U+0000 is refused in
 * text and jsonb columns, and no person types it: it is bad input. A lone
 * surrogate half becomes U+FFFD, as it would in a text column anyway; left as
 * it is, it breaks the jsonb of the event log and the audit. The other
 * invisible controls are dropped: nobody sees them, and nothing is lost.
 */
export function storable (text: string): string {
  if (text.includes('\u0000')) throw badRequest('invalid_characters', 'The text contains a character that cannot be stored (U+0000).')
  return text.replace(/\p{Cs}/gu, '\uFFFD').replace(INVISIBLE_CONTROLS, '')
}

/** Whether a text could be stored at all: a lookup by one that could not finds nothing. */
export const isStorable = (text: string): boolean => !text.includes('\u0000')
