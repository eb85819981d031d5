/**
 * Hono middleware: response caching. Import from `@cache/integrations/hono`. It needs nothing from hono at
 * run time (Hono hands middleware the Web-standard Request and Response), so hono is not even a peer.
 * @example app.get('/products', honoCache({ cache, ttl: '1m' }), (c) => c.json(products))
 */
import type { Lookup } from './response-cache.js'
import { ResponseCache } from './response-cache.js'
import type { ResponseCacheOptions } from './response-options.js'
import { captureResponse, toResponse, webFacts } from './web-cache.js'

/** The part of Hono's Context the middleware uses. */
export interface HonoContextLike {
  req: { raw: Request }
  res: Response
  /** Hono's error after `next()` when the handler threw (then nothing is stored). */
  error?: Error | undefined
}

/** Options of the Hono middleware. */
export type HonoCacheOptions = ResponseCacheOptions<Request>

/**
 * Hono middleware that answers GET/HEAD from the cache or stores what the route returns; a route tags its
 * response with `c.header('Cache-Tag', 'product:7')`.
 */
export function honoCache(
  options: HonoCacheOptions,
): (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined> {
  const engine = new ResponseCache<Request>(options)
  return async (c, next) => {
    const lookup: Lookup = await engine.lookup(webFacts(c.req.raw))
    if (lookup.kind === 'hit') return toResponse(lookup.response)
    try {
      await next()
    } catch (err) {
      lookup.abort(err)
      throw err
    }
    if (c.error) {
      lookup.abort(c.error)
      return undefined
    }
    const ready = toResponse(await lookup.finish(await captureResponse(c.res)))
    // Hono merges the headers of the response it holds into an assigned one: drop it first.
    c.res = undefined as unknown as Response
    c.res = ready
    return undefined
  }
}
