import { badRequest } from './errors.ts'

/**
 * A text as PostgreSQL can keep it. U+0000 is refused in text and jsonb
 * columns, and no person types it: it is bad input. A lone surrogate half
 * becomes U+FFFD, as it would in a text column anyway; left as it is, it
 * breaks the jsonb of the event log and the audit.
 */
export function storable (text: string): string {
  if (text.includes('\u0000')) throw badRequest('invalid_characters', 'The text contains a character that cannot be stored (U+0000).')
  return text.replace(/\p{Cs}/gu, '\uFFFD')
}

/** Whether a text could be stored at all: a lookup by one that could not finds nothing. */
export const isStorable = (text: string): boolean => !text.includes('\u0000')
