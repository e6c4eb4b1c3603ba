import type { FastifyRequest } from 'fastify'
import type { IdempotencyKey } from '../../../domain/idempotency.ts'

/** The request's Idempotency-Key, with what it asks, so a retry can be recognised. */
export function idempotencyOf (request: FastifyRequest): IdempotencyKey | undefined {
  const key = request.headers['idempotency-key']
  if (typeof key !== 'string') return undefined
  return { key, request: { route: request.routeOptions.url, params: request.params, body: request.body } }
}
