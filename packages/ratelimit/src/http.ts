/**
 * HTTP rate limiting for node:http, and the framework-neutral core the Express and Fastify adapters share:
 * key from IP, user or route, skip lists, standard RateLimit / RateLimit-Policy headers, Retry-After on 429.
 * Import from `@cache/ratelimit/http`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Limiter } from './limiter.js'
import type { RateLimitResult } from './result.js'

/** What the middleware knows about a request, whatever the framework. */
export interface RequestInfo<Req = unknown> {
  /** Client address (the framework's, e.g. Express `req.ip` honouring its trust proxy setting). */
  ip: string
  /** Path without the query string. */
  path: string
  /** Route pattern when the framework knows it (e.g. `/users/:id`), else the path. */
  route: string
  method: string
  /** The framework's request object. */
  req: Req
}

/** How a request is turned into a limiter key. */
export type KeyStrategy<Req = unknown> =
  | 'ip'
  | 'user'
  | 'route'
  | 'ip+route'
  | 'user+route'
  | ((info: RequestInfo<Req>) => string | undefined | Promise<string | undefined>)

/** Options of the HTTP middleware (node:http, Express, Fastify). */
export interface HttpRateLimitOptions<Req = unknown> {
  /** A `RateLimiter` or `CombinedLimiter`. */
  limiter: Limiter
  /** The key of a request. Requests without a key (e.g. 'user' for anonymous ones) fall back to the IP. @default 'ip' */
  key?: KeyStrategy<Req>
  /** The user id of a request, for the 'user' strategies. */
  user?: (req: Req) => string | undefined
  /** Units a request costs. @default 1 */
  cost?: number | ((info: RequestInfo<Req>) => number)
  /** Paths (exact strings or RegExps) that are never limited, or a predicate. */
  skip?: ReadonlyArray<string | RegExp> | ((info: RequestInfo<Req>) => boolean)
  /** Client addresses that are never limited (e.g. health checkers). */
  skipIps?: ReadonlyArray<string>
  /** Which standard headers to send: IETF draft 8+ (`RateLimit: "rule";r=..;t=..`), draft 7 (`RateLimit: limit=.., remaining=.., reset=..`), or none. @default 'draft-8' */
  headers?: 'draft-8' | 'draft-7' | false
  /** Status of a limited response. @default 429 */
  statusCode?: number
  /** Body of a limited response (objects are sent as JSON). @default 'Too Many Requests' */
  message?: string | Record<string, unknown>
}

/** The decision for one request: headers to set, and whether to refuse it. @internal */
export interface HttpDecision {
  limited: boolean
  headers: Record<string, string>
  statusCode: number
  body: string
  contentType: string
  result: RateLimitResult | undefined
}

const secs = (ms: number) => Math.max(0, Math.ceil(ms / 1000))

/** The RateLimit / RateLimit-Policy (and Retry-After) headers of a result. */
export function rateLimitHeaders(
  result: RateLimitResult,
  flavour: 'draft-8' | 'draft-7' = 'draft-8',
): Record<string, string> {
  const headers: Record<string, string> = {}
  if (flavour === 'draft-7') {
    headers['RateLimit-Policy'] = result.rules.map((r) => `${r.limit};w=${secs(r.windowMs)}`).join(', ')
    headers.RateLimit = `limit=${result.limit}, remaining=${result.remaining}, reset=${secs(result.resetAfterMs)}`
  } else {
    headers['RateLimit-Policy'] = result.rules
      .map((r) => `"${r.rule}";q=${r.limit};w=${secs(r.windowMs)}`)
      .join(', ')
    headers.RateLimit = `"${result.rule}";r=${result.remaining};t=${secs(result.allowed ? result.resetAfterMs : result.retryAfterMs)}`
  }
  if (!result.allowed) headers['Retry-After'] = String(Math.max(1, secs(result.retryAfterMs)))
  return headers
}

/** Builds the framework-neutral decision function. @internal */
export function createDecider<Req>(
  options: HttpRateLimitOptions<Req>,
): (info: RequestInfo<Req>) => Promise<HttpDecision> {
  const {
    limiter,
    key = 'ip',
    user,
    cost = 1,
    skip,
    skipIps = [],
    headers = 'draft-8',
    statusCode = 429,
  } = options
  const message = options.message ?? 'Too Many Requests'
  const body = typeof message === 'string' ? message : JSON.stringify(message)
  const contentType =
    typeof message === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8'
  const ips = new Set(skipIps)
  const pass = (result?: RateLimitResult): HttpDecision => ({
    limited: false,
    headers: result && headers ? rateLimitHeaders(result, headers) : {},
    statusCode: 200,
    body: '',
    contentType,
    result,
  })
  const keyOf = async (info: RequestInfo<Req>): Promise<string> => {
    if (typeof key === 'function') return (await key(info)) || `ip:${info.ip}`
    const id = key.startsWith('user') ? user?.(info.req) : undefined
    const who = id ? `user:${id}` : `ip:${info.ip}`
    if (key === 'route') return `route:${info.method} ${info.route}`
    return key.endsWith('+route') ? `${who}|${info.method} ${info.route}` : who
  }
  return async (info) => {
    if (ips.has(info.ip)) return pass()
    if (
      typeof skip === 'function'
        ? skip(info)
        : skip?.some((s) => (typeof s === 'string' ? s === info.path : s.test(info.path)))
    )
      return pass()
    const units = typeof cost === 'function' ? cost(info) : cost
    const result = await limiter.consume(await keyOf(info), { cost: units })
    if (result.allowed) return pass(result)
    const h = headers
      ? rateLimitHeaders(result, headers)
      : { 'Retry-After': String(Math.max(1, secs(result.retryAfterMs))) }
    return { limited: true, headers: h, statusCode, body, contentType, result }
  }
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/'
  const q = u.indexOf('?')
  return q < 0 ? u : u.slice(0, q)
}

/** The client address of a node:http request. */
export function remoteAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown'
}

/**
 * Rate limiting for node:http: returns `check(req, res)`, which sets the headers and answers limited
 * requests itself (resolving to false), or resolves to true when the request may proceed.
 * @example
 * const check = httpRateLimit({ limiter })
 * http.createServer(async (req, res) => { if (await check(req, res)) res.end('ok') })
 */
export function httpRateLimit(
  options: HttpRateLimitOptions<IncomingMessage>,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const decide = createDecider(options)
  return async (req, res) => {
    const path = pathOf(req.url)
    const d = await decide({ ip: remoteAddress(req), path, route: path, method: req.method ?? 'GET', req })
    for (const [name, value] of Object.entries(d.headers)) res.setHeader(name, value)
    if (!d.limited) return true
    res.statusCode = d.statusCode
    res.setHeader('Content-Type', d.contentType)
    res.end(d.body)
    return false
  }
}
