import type { CapturedResponse, RequestFacts } from './request-facts.js'
import { type ReadyResponse, ResponseCache } from './response-cache.js'
import type { ResponseCacheOptions } from './response-options.js'

/** A Web-standard handler: Next.js route handlers, Hono's `app.fetch`, Bun.serve, Deno.serve. */
export type WebHandler<Rest extends unknown[] = unknown[]> = (
  request: Request,
  ...rest: Rest
) => Response | Promise<Response>

/**
 * Host and path + query of an absolute http(s) URL, cut out of the string (no URL parse per request): what
 * `URL.host` (lower-cased) and `URL.pathname + URL.search` give for a URL as a Request serialises it, the
 * fragment and a bare `?` dropped. Undefined for any other scheme (the caller parses those).
 */
export function splitUrl(href: string): { host: string; url: string } | undefined {
  const start = href.startsWith('http://') ? 7 : href.startsWith('https://') ? 8 : -1
  if (start < 0) return undefined
  let end = href.indexOf('#', start)
  if (end < 0) end = href.length
  let hostEnd = start
  while (hostEnd < end) {
    const c = href.charCodeAt(hostEnd)
    if (c === 47 /* / */ || c === 63 /* ? */) break
    hostEnd++
  }
  const q = href.indexOf('?', hostEnd)
  if (q >= 0 && q === end - 1) end = q
  const rest = href.slice(hostEnd, end)
  return {
    host: href.slice(start, hostEnd).toLowerCase(),
    url: rest.charCodeAt(0) === 47 ? rest : `/${rest}`,
  }
}

/** The facts of a Fetch API request. */
export function webFacts(request: Request): RequestFacts<Request> {
  let at = splitUrl(request.url)
  if (at === undefined) {
    const url = new URL(request.url)
    at = { host: url.host.toLowerCase(), url: `${url.pathname}${url.search}` }
  }
  return {
    method: request.method.toUpperCase(),
    host: at.host,
    url: at.url,
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

/**
 * A Fetch API response of a ready one. The header pairs go to the Response as they are: it validates and
 * copies them once (a Headers object built first was validated and copied twice).
 */
export function toResponse(ready: ReadyResponse): Response {
  const nullBody = NULL_BODY.has(ready.status)
  const headers: Array<[string, string]> = []
  for (const pair of ready.headers) if (pair[0] !== 'content-length') headers.push(pair)
  if (!nullBody) headers.push(['content-length', String(ready.body.byteLength)])
  const empty = nullBody || ready.body.byteLength === 0
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
