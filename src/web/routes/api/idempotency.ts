import type { FastifyRequest } from 'fastify'
import type { IdempotencyKey } from '../../../domain/idempotency.ts'
import { type TokenKey, tokenKey } from '../../../domain/tokens.ts'

/**
 * The request's Idempotency-Key, with what it asks, so a retry can be
 * recognised. `asked` stands for the body where the body holds a secret that
 * must not be kept, even hashed.
 */
export function idempotencyOf (request: FastifyRequest, asked: unknown = request.body): IdempotencyKey | undefined {
  const key = request.headers['idempotency-key']
  if (typeof key !== 'string') return undefined
  return { key, request: { route: request.routeOptions.url, params: request.params, body: asked } }
}

/** The Idempotency-Key of a request that issues an API token, with the secret that seals its kept answer. */
export function tokenKeyOf (request: FastifyRequest, asked?: unknown): TokenKey | undefined {
  return tokenKey(idempotencyOf(request, asked), request.server.config.sessionSecret)
}
