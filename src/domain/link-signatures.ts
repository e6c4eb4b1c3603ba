import { createHmac, timingSafeEqual } from 'node:crypto'

/** A signature is 32 characters of base64url. */
const SIGNATURE = /^[\w-]{32}$/

/** Whether a text has the shape of a signature: anything else (a link mangled by a mail client) is refused before any lookup. */
export const isSignature = (given: string): boolean => SIGNATURE.test(given)

/**
 * Signatures for one kind of link sent by e-mail, which prove what the link
 * is for without anybody signed in. Each kind (`purpose`) has a key of its
 * own, derived from the instance's secret: nothing else signed with the
 * secret (a cookie, another kind of link) can be passed off as one. What is
 * signed is a JSON array, so no two different links sign the same text.
 */
export function linkSignatures (secret: string, purpose: string) {
  const key = createHmac('sha256', secret).update(purpose).digest()
  const sign = (...what: Array<string | number>): string => createHmac('sha256', key).update(JSON.stringify(what)).digest('base64url').slice(0, 32)
  return {
    sign,
    /** Whether `given` signs `what`, compared byte for byte in constant time. */
    matches: (given: string, ...what: Array<string | number>): boolean => isSignature(given) && timingSafeEqual(Buffer.from(given), Buffer.from(sign(...what)))
  }
}
