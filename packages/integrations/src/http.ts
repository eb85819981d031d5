/**
 * Response caching for node:http. Import from `@cache/integrations/http`.
 * @example
 * const cached = cacheResponses({ cache, ttl: '30s' })
 * http.createServer((req, res) => cached(req, res, () => res.end('hello')))
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { captureInto, nodeFacts, sendReady } from './node-capture.js'
import { ResponseCache } from './response-cache.js'
import type { ResponseCacheOptions } from './response-options.js'

export { cacheTags } from './node-capture.js'

/** A node:http request handler (what `http.createServer` takes). */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/**
 * Response caching for node:http: returns `cached(req, res, handler)`, which answers from the cache or
 * runs `handler` and stores what it writes. Tag a response with `cacheTags(res, 'user:42')` or the
 * `Cache-Tag` header.
 */
export function cacheResponses(
  options: ResponseCacheOptions<IncomingMessage>,
): (req: IncomingMessage, res: ServerResponse, handler: NodeHandler) => Promise<void> {
  const engine = new ResponseCache<IncomingMessage>(options)
  return async (req, res, handler) => {
    const lookup = await engine.lookup(nodeFacts(req))
    if (lookup.kind === 'hit') return sendReady(res, lookup.response)
    captureInto(res, lookup)
    try {
      await handler(req, res)
    } catch (err) {
      lookup.abort(err)
      throw err
    }
  }
}
