// Type assertions: checked by `tsc -p packages/ratelimit` (vitest's typecheck project would also check other packages' files).
import type { IncomingMessage } from 'node:http'
import type { Request } from 'express'
import type { FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import type { Lease } from './concurrency.js'
import type { ExpressRateLimitOptions } from './express.js'
import type { FastifyRateLimitOptions } from './fastify.js'
import type { HttpRateLimitOptions, RequestInfo } from './http.js'
import type { CombinedLimiter, Limiter, RateLimiter } from './limiter.js'
import type { RateLimitResult } from './result.js'

describe('public types', () => {
  it('limiters share one interface and resolve to RateLimitResult', () => {
    expectTypeOf<RateLimiter>().toMatchTypeOf<Limiter>()
    expectTypeOf<CombinedLimiter>().toMatchTypeOf<Limiter>()
    expectTypeOf<Limiter['consume']>().returns.resolves.toEqualTypeOf<RateLimitResult>()
    expectTypeOf<RateLimitResult['source']>().toEqualTypeOf<
      'redis' | 'cache' | 'local' | 'fail-open' | 'fail-closed'
    >()
    expectTypeOf<Lease['release']>().returns.resolves.toBeBoolean()
  })

  it('middleware callbacks see the framework request type', () => {
    expectTypeOf<ExpressRateLimitOptions['user']>().parameter(0).toEqualTypeOf<Request>()
    expectTypeOf<FastifyRateLimitOptions['user']>().parameter(0).toEqualTypeOf<FastifyRequest>()
    expectTypeOf<RequestInfo<IncomingMessage>['req']>().toEqualTypeOf<IncomingMessage>()
    expectTypeOf<HttpRateLimitOptions<Request>['key']>().toMatchTypeOf<
      | 'ip'
      | 'user'
      | 'route'
      | 'ip+route'
      | 'user+route'
      | ((info: RequestInfo<Request>) => unknown)
      | undefined
    >()
  })
})
