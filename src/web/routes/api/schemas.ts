/** JSON schemas shared by the API routes. Types only: the domain checks the rules and words the errors. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } }
} as const

export interface IdParams { id: number }

export const nullableString = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const
