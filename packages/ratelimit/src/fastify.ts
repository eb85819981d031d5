/**
 * Fastify integration. Import from `@cache/ratelimit/fastify` (fastify is an optional peer dependency).
 * @example app.register(fastifyRateLimit, { limiter })  // or app.addHook('onRequest', rateLimitHook({ limiter }))
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createDecider, type HttpRateLimitOptions } from './http.js'

/** Options of the Fastify hook and plugin. */
export type FastifyRateLimitOptions = HttpRateLimitOptions<FastifyRequest>

/** An `onRequest` hook that limits requests, sets the RateLimit headers and answers 429 with Retry-After. */
export function rateLimitHook(
  options: FastifyRateLimitOptions,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const decide = createDecider(options)
  return async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/'
    const d = await decide({
      ip: request.ip,
      path,
      route: request.routeOptions?.url ?? path,
      method: request.method,
      req: request,
    })
    reply.headers(d.headers)
    if (d.limited) await reply.code(d.statusCode).type(d.contentType).send(d.body)
  }
}

/**
 * A Fastify plugin adding the hook to every route of the instance it is registered on (it is not
 * encapsulated, like plugins wrapped with fastify-plugin).
 */
export const fastifyRateLimit = Object.assign(
  async (app: FastifyInstance, options: FastifyRateLimitOptions) => {
    app.addHook('onRequest', rateLimitHook(options))
  },
  { [Symbol.for('skip-override')]: true },
)
