import { InvalidOptionError } from '@cache/client'
import type { Limiter } from '@cache/ratelimit'
import { rateLimitHeaders } from '@cache/ratelimit'
import { PKG } from './defaults.js'
import type { WebHandler } from './web-cache.js'

/** Options of `withRateLimit(handler, options)`. */
export interface WebRateLimitOptions {
  /** A `RateLimiter` or `CombinedLimiter` of @cache/ratelimit. */
  limiter: Limiter
  /**
   * The limiter key of a request; `undefined` skips the limit for it.
   * @default the first address of `x-forwarded-for`, else `x-real-ip`, else 'anonymous'
   */
  key?: (request: Request) => string | undefined | Promise<string | undefined>
  /** Units a request costs. @default 1 */
  cost?: number | ((request: Request) => number)
  /** RateLimit headers flavour (IETF draft 8 or 7), or none. @default 'draft-8' */
  headers?: 'draft-8' | 'draft-7' | false
  /** The answer to a limited request. @default 429 'Too Many Requests' with Retry-After */
  limited?: (retryAfterMs: number, request: Request) => Response | Promise<Response>
}

/** The client address a proxy in front of the app reports (the first of `x-forwarded-for`). */
export function forwardedFor(request: Request): string {
  const fwd = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim()
  return fwd || request.headers.get('x-real-ip') || 'anonymous'
}

/** A copy of a response with more headers (responses from fetch() have immutable headers). */
export function withHeaders(response: Response, extra: Record<string, string>): Response {
  const out = new Response(response.body, response)
  for (const [k, v] of Object.entries(extra)) out.headers.set(k, v)
  return out
}

/**
 * Rate limiting for a Web-standard handler: a limited request gets 429 with Retry-After and the
 * RateLimit headers and never reaches the handler; an allowed one gets the headers on its response.
 * @example export const POST = withRateLimit(handler, { limiter, key: (req) => req.headers.get('x-user-id') ?? undefined })
 */
export function withRateLimit<Rest extends unknown[]>(
  handler: WebHandler<Rest>,
  options: WebRateLimitOptions,
): (request: Request, ...rest: Rest) => Promise<Response> {
  const {
    limiter,
    key = forwardedFor,
    cost = 1,
    headers = 'draft-8',
  } = options ?? ({} as WebRateLimitOptions)
  if (!limiter || typeof limiter.consume !== 'function')
    throw new InvalidOptionError(
      PKG,
      'limiter',
      'must be a RateLimiter or CombinedLimiter of @cache/ratelimit',
    )
  if (typeof key !== 'function') throw new InvalidOptionError(PKG, 'key', 'must be a function')
  if (headers !== false && headers !== 'draft-7' && headers !== 'draft-8')
    throw new InvalidOptionError(PKG, 'headers', "must be 'draft-8', 'draft-7' or false")
  const limited =
    options.limited ??
    ((retryAfterMs: number) =>
      new Response('Too Many Requests', {
        status: 429,
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
        },
      }))
  return async (request, ...rest) => {
    const id = await key(request)
    if (id === undefined) return handler(request, ...rest)
    const units = typeof cost === 'function' ? cost(request) : cost
    const result = await limiter.consume(id, { cost: units })
    const extra = headers ? rateLimitHeaders(result, headers) : {}
    if (!result.allowed) {
      if (!headers) extra['Retry-After'] = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)))
      return withHeaders(await limited(result.retryAfterMs, request), extra)
    }
    return withHeaders(await handler(request, ...rest), extra)
  }
}
