import type { CapturedResponse, RequestFacts } from './request-facts.js'
import { type ReadyResponse, ResponseCache } from './response-cache.js'
import type { ResponseCacheOptions } from './response-options.js'

/** A Web-standard handler: Next.js route handlers, Hono's `app.fetch`, Bun.serve, Deno.serve. */
export type WebHandler<Rest extends unknown[] = unknown[]> = (
  request: Request,
  ...rest: Rest
) => Response | Promise<Response>

/** The facts of a Fetch API request. */
export function webFacts(request: Request): RequestFacts<Request> {
  const url = new URL(request.url)
  return {
    method: request.method.toUpperCase(),
    host: url.host.toLowerCase(),
    url: `${url.pathname}${url.search}`,
    header: (name) => request.headers.get(name) ?? undefined,
    raw: request,
  }
}

/** Buffers a Fetch API response (Set-Cookie values kept apart). */
export async function captureResponse(response: Response): Promise<CapturedResponse> {
  const headers: Array<[string, string]> = []
  for (const [k, v] of response.headers) if (k !== 'set-cookie') headers.push([k, v])
  for (const cookie of response.headers.getSetCookie()) headers.push(['set-cookie', cookie])
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) }
}

const NULL_BODY = new Set([101, 103, 204, 205, 304])

/** A Fetch API response of a ready one. */
export function toResponse(ready: ReadyResponse): Response {
  const headers = new Headers()
  for (const [k, v] of ready.headers) if (k !== 'content-length') headers.append(k, v)
  const empty = NULL_BODY.has(ready.status) || ready.body.byteLength === 0
  if (!NULL_BODY.has(ready.status)) headers.set('content-length', String(ready.body.byteLength))
  return new Response(empty ? null : (ready.body as Uint8Array<ArrayBuffer>), {
    status: ready.status,
    headers,
  })
}

/**
 * Response caching for a Web-standard handler (`(Request) => Response`): Next.js route handlers, Hono
 * (`withCache((req) => app.fetch(req), opts)`), Bun and Deno. Tag a response with the `Cache-Tag` header.
 * @example export const GET = withCache(async (req) => Response.json(await products()), { cache, ttl: '1m' })
 */
export function withCache<Rest extends unknown[]>(
  handler: WebHandler<Rest>,
  options: ResponseCacheOptions<Request>,
): (request: Request, ...rest: Rest) => Promise<Response> {
  const engine = new ResponseCache<Request>(options)
  return async (request, ...rest) => {
    const lookup = await engine.lookup(webFacts(request))
    if (lookup.kind === 'hit') return toResponse(lookup.response)
    let captured: CapturedResponse
    try {
      captured = await captureResponse(await handler(request, ...rest))
    } catch (err) {
      lookup.abort(err)
      throw err
    }
    return toResponse(await lookup.finish(captured))
  }
}
