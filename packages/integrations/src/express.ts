/**
 * Express middleware: response caching. Import from `@cache/integrations/express` (express is an optional
 * peer dependency).
 * @example app.get('/products', cacheResponses({ cache, ttl: '1m', vary: ['accept-language'] }), handler)
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { captureInto, nodeFacts, sendReady } from './node-capture.js'
import { ResponseCache } from './response-cache.js'
import type { ResponseCacheOptions } from './response-options.js'

export { cacheTags } from './node-capture.js'

/** Options of the Express middleware. */
export type ExpressCacheOptions = ResponseCacheOptions<Request>

/**
 * Express middleware that answers GET/HEAD from the cache or stores what the route sends. Routes tag
 * their response with `res.locals.cacheTags = ['product:7']` (or the `Cache-Tag` header); a successful
 * POST/PUT/PATCH/DELETE through the middleware invalidates the tags its handler names.
 */
export function cacheResponses(options: ExpressCacheOptions): RequestHandler {
  const engine = new ResponseCache<Request>(options)
  return (req: Request, res: Response, next: NextFunction) => {
    engine.lookup(nodeFacts(req, req.originalUrl)).then((lookup) => {
      if (lookup.kind === 'hit') return sendReady(res, lookup.response)
      captureInto(res, lookup, () => {
        const tags = (res.locals as { cacheTags?: unknown }).cacheTags
        return Array.isArray(tags) ? tags.map(String) : []
      })
      next()
    }, next)
  }
}
