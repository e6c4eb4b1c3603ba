/** JSON schemas shared by the API routes. Types only: the domain checks the rules and words the errors. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } }
} as const

export interface IdParams { id: number }

export const nullableString = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const

// Response schemas: the hot GET routes are serialised by them instead of JSON.stringify.
// A field missing here is dropped from the answer, so every field of views.ts is listed.
const nullable = (type: 'string' | 'integer') => ({ type: [type, 'null'] }) as const

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
