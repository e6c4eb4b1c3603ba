/** JSON schemas shared by the API routes. Types only: the domain checks the rules and words the errors. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } }
} as const

export interface IdParams { id: number }

export const nullableString = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const

// Response schemas: every JSON answer is serialised by its route's schema
// instead of JSON.stringify. A field missing here is dropped from the answer,
// so each lists every field of the domain's type it serialises; the tests'
// apps check every answer against JSON.stringify (test/helpers/app.ts).
const nullable = (type: 'string' | 'integer') => ({ type: [type, 'null'] }) as const
const integer = { type: 'integer' } as const
const string = { type: 'string' } as const
const boolean = { type: 'boolean' } as const

/** An object whose every listed field is always there. */
function fields<const P extends Record<string, unknown>> (properties: P) {
  return { type: 'object', required: Object.keys(properties), properties } as const
}

/** `{ [key]: [item] }`: how the API answers with a list. */
export function listOf (key: string, items: unknown) {
  return fields({ [key]: { type: 'array', items } })
}

/** Small answers of one field or two. */
export const statusResponse = fields({ status: string })
export const tokenResponse = fields({ token: string })
export const newTokenResponse = fields({ id: integer, token: string })
export const htmlResponse = fields({ html: string })
/** A signed-in user's follow of an incident by e-mail (`FollowState`). */
export const followResponse = fields({ following: boolean, confirmed: boolean, canResend: boolean, refused: boolean, linkSent: boolean })
export const followsResponse = listOf('follows', fields({ threadId: integer, title: string, status: string }))

/** The contract's error shape, for every route's 4xx and 5xx answers. */
const errorResponse = fields({ error: fields({ code: string, message: string }) })

/** A route's answers by status, with the error shape for the rest. */
export function answers (byStatus: Record<number, unknown>) {
  return { ...byStatus, '4xx': errorResponse, '5xx': errorResponse }
}

export const threadResponse = {
  type: 'object',
  required: ['id', 'title', 'status', 'locked', 'pinnedPostId', 'nextUpdateAt', 'lastPostAt', 'postCount', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    status: { type: 'string' },
    locked: { type: 'boolean' },
    pinnedPostId: nullable('integer'),
    nextUpdateAt: nullable('string'),
    lastPostAt: nullable('string'),
    postCount: { type: 'integer' },
    createdAt: { type: 'string' },
    slowModeSeconds: { type: 'integer' },
    cadenceMinutes: nullable('integer'),
    crisisMode: { type: 'boolean' },
    crisisReadOnly: { type: 'boolean' },
    lastSeq: { type: 'integer' }
  }
} as const

export const postResponse = {
  type: 'object',
  required: ['id', 'threadId', 'kind', 'author', 'shift', 'replyTo', 'createdAt', 'editedAt', 'hidden'],
  properties: {
    id: { type: 'integer' },
    threadId: { type: 'integer' },
    kind: { type: 'string' },
    // Left out of hidden posts for readers: optional, never null.
    body: { type: 'string' },
    html: { type: 'string' },
    author: {
      type: 'object',
      required: ['id', 'name', 'role'],
      properties: { id: { type: 'integer' }, name: { type: 'string' }, role: { type: 'string' } }
    },
    shift: nullable('string'),
    handoverTo: nullable('string'),
    replyTo: nullable('integer'),
    createdAt: { type: 'string' },
    editedAt: nullable('string'),
    hidden: { type: 'boolean' },
    hiddenReason: nullable('string'),
    status: nullable('string'),
    nextUpdateAt: nullable('string'),
    answeredBy: nullable('integer')
  }
} as const

export const userResponse = fields({ id: integer, email: string, name: string, role: string, shift: nullable('string'), createdAt: string })

/** Who the token or session is, as `GET /me` shows it. */
export const meResponse = fields({ id: integer, name: string, email: string, role: string, shift: nullable('string'), locale: nullable('string') })

export const tokenSummaryResponse = fields({
  id: integer,
  owner: fields({ id: integer, name: string, email: string }),
  label: nullable('string'),
  createdAt: string,
  lastUsedAt: nullable('string'),
  revokedAt: nullable('string')
})

export const pinResponse = fields({
  post: postResponse,
  pinnedBy: fields({ id: integer, name: string }),
  pinnedAt: string,
  unpinnedAt: nullable('string')
})

export const flagResponse = fields({ postId: integer, reason: string, hidden: boolean })

export const flaggedPostResponse = fields({
  post: postResponse,
  count: integer,
  reasons: fields({ spam: integer, rumour: integer, abusive: integer }),
  pendingReview: boolean,
  lastFlaggedAt: string
})

export const auditResponse = fields({
  id: integer,
  actor: { anyOf: [fields({ id: integer, name: string }), { type: 'null' }] },
  action: string,
  threadId: nullable('integer'),
  postId: nullable('integer'),
  targetUserId: nullable('integer'),
  targetName: nullable('string'),
  // What the action changed, as it was recorded: any JSON.
  before: {},
  after: {},
  reason: nullable('string'),
  createdAt: string
})

export const revisionResponse = fields({ body: string, html: string, editedBy: integer, createdAt: string })

export const scheduleResponse = fields({ day: integer, evening: integer, night: integer, timeZone: string, current: string })

const onDutyResponse = fields({ userId: integer, name: string, role: string, shift: nullable('string'), lead: boolean, since: string, until: string })

export const dutyResponse = fields({ onDuty: { type: 'array', items: onDutyResponse }, lead: { anyOf: [onDutyResponse, { type: 'null' }] } })
