import { createHash } from 'node:crypto'
import { type Duration, InvalidOptionError } from '@cache/client'
import type { Cache, SetOptions } from './cache.js'
import { MAX_TTL_MS, MIN_TTL_MS, PKG } from './defaults.js'

/**
 * JSON with object keys sorted at every level, so equal values always give equal text (bigints as
 * `"<n>n"`, undefined object fields dropped as JSON does). The basis of stable cache keys.
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      const sorted: Record<string, unknown> = {}
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k]
      return sorted
    }
    return v
  })
}

/** A short, stable hash (SHA-256, base64url, 32 chars) of any JSON-like value. */
export function stableHash(value: unknown): string {
  return createHash('sha256')
    .update(stableStringify(value) ?? 'undefined')
    .digest('base64url')
    .slice(0, 32)
}

// ---- LLM responses -------------------------------------------------------------------------------

/** What identifies an LLM call: the model, the prompt (or chat messages) and the sampling parameters. */
export interface LlmRequest {
  model: string
  prompt?: string
  messages?: ReadonlyArray<unknown>
  /** temperature, top_p, max_tokens, tools… — anything that changes the answer. */
  params?: Record<string, unknown>
}

/** The cache key of an LLM call: `llm:<model>:<stable hash of model + prompt/messages + params>`. */
export function llmCacheKey(request: LlmRequest): string {
  if (!request || typeof request.model !== 'string' || request.model.length === 0) {
    throw new InvalidOptionError(PKG, 'model', 'must be a non-empty string')
  }
  if (request.prompt === undefined && request.messages === undefined) {
    throw new InvalidOptionError(PKG, 'prompt', 'or "messages" must be given')
  }
  const { model, prompt, messages, params } = request
  return `llm:${model}:${stableHash({ model, prompt, messages, params: params ?? {} })}`
}

/**
 * Caches an LLM response: the same model, prompt and parameters return the cached answer; concurrent
 * identical calls share one request (getOrSet). Errors are not cached.
 * @example
 * const answer = await cacheLlm(cache, { model: 'gpt-4o', prompt, params: { temperature: 0 } }, () => callModel(prompt))
 */
export function cacheLlm<R>(
  cache: Cache<R>,
  request: LlmRequest,
  call: () => Promise<R>,
  options: SetOptions = {},
): Promise<R> {
  return cache.getOrSet(llmCacheKey(request), () => call(), options)
}

// ---- query results -------------------------------------------------------------------------------

/** The cache key of a query: `query:<stable hash of text + parameters>`. */
export function queryCacheKey(text: string, params: unknown = []): string {
  if (typeof text !== 'string' || text.length === 0)
    throw new InvalidOptionError(PKG, 'query', 'must be a non-empty string')
  return `query:${stableHash({ text, params })}`
}

/**
 * Caches a query's result under a key derived from its text and parameters; tag it (e.g. by table) to
 * invalidate every cached query on that table after a write.
 * @example
 * const rows = await cacheQuery(cache, 'select * from users where org = $1', [org], () => db.query(...), { tags: ['users'] })
 */
export function cacheQuery<R>(
  cache: Cache<R>,
  text: string,
  params: unknown,
  run: () => Promise<R>,
  options: SetOptions = {},
): Promise<R> {
  return cache.getOrSet(queryCacheKey(text, params), () => run(), options)
}

// ---- HTTP / API responses ------------------------------------------------------------------------

/** A request as far as caching cares. */
export interface CacheableRequest {
  method?: string
  url: string
  headers?: Record<string, string | string[] | undefined>
}

/** A response that can be stored (body as text or bytes). */
export interface CachedResponse {
  status: number
  headers: Record<string, string>
  body: string | Uint8Array
}

/** Options of `cacheResponse()`. */
export interface ResponseCacheOptions {
  /** TTL when the response has no `Cache-Control: max-age` (1s–30d). @default the cache's defaultTtl */
  ttl?: Duration
  /** Request headers that select a variant (e.g. `accept-language`); added to the key. @default [] */
  vary?: readonly string[]
  /** Statuses worth caching. @default [200, 203, 204, 300, 301, 404, 410] */
  statuses?: readonly number[]
  /** Tags for `invalidateTags()`. */
  tags?: readonly string[]
}

const CACHEABLE_STATUSES = [200, 203, 204, 300, 301, 404, 410]

/** The cache key of a request: `http:<METHOD>:<hash of url + varied headers>`. */
export function responseCacheKey(request: CacheableRequest, vary: readonly string[] = []): string {
  if (!request || typeof request.url !== 'string' || request.url.length === 0) {
    throw new InvalidOptionError(PKG, 'url', 'must be a non-empty string')
  }
  const method = (request.method ?? 'GET').toUpperCase()
  const varied: Record<string, unknown> = {}
  for (const h of vary) {
    const name = h.toLowerCase()
    const entry = Object.entries(request.headers ?? {}).find(([k]) => k.toLowerCase() === name)
    varied[name] = entry?.[1] ?? null
  }
  return `http:${method}:${stableHash({ url: request.url, varied })}`
}

/** The TTL a response allows (ms), `0` when it must not be stored, undefined when it does not say. */
export function responseTtl(headers: Record<string, string>): number | undefined {
  const cc = Object.entries(headers)
    .find(([k]) => k.toLowerCase() === 'cache-control')?.[1]
    ?.toLowerCase()
  if (!cc) return undefined
  if (/(^|,)\s*(no-store|no-cache|private)\s*(,|$)/.test(cc)) return 0
  const m = /(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d+)/.exec(cc)
  if (!m) return undefined
  const ms = Number(m[1]) * 1000
  return ms < MIN_TTL_MS ? 0 : Math.min(ms, MAX_TTL_MS)
}

/**
 * Read-through caching of HTTP/API responses: GET and HEAD only, honouring the response's Cache-Control
 * (`no-store`, `private`, `no-cache` → not stored; `max-age` / `s-maxage` → TTL), varied by chosen request
 * headers; concurrent identical requests share one fetch.
 * @returns the response and whether it came from the cache.
 */
export async function cacheResponse(
  cache: Cache<CachedResponse>,
  request: CacheableRequest,
  fetch: () => Promise<CachedResponse>,
  options: ResponseCacheOptions = {},
): Promise<{ response: CachedResponse; cached: boolean }> {
  const method = (request.method ?? 'GET').toUpperCase()
  if (method !== 'GET' && method !== 'HEAD') return { response: await fetch(), cached: false }
  const key = responseCacheKey(request, options.vary)
  const hit = await cache.get(key)
  if (hit !== undefined) return { response: hit, cached: true }
  const statuses = options.statuses ?? CACHEABLE_STATUSES
  let fresh: CachedResponse | undefined
  let stored = false
  const response = await cache
    .getOrSet(
      key,
      async () => {
        fresh = await fetch()
        const ttl = responseTtl(fresh.headers)
        if (ttl === 0 || !statuses.includes(fresh.status)) throw new NotStored(fresh)
        stored = true
        return fresh
      },
      {
        ...(options.tags ? { tags: options.tags } : {}),
        ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      },
    )
    .catch((err: unknown) => {
      if (err instanceof NotStored) return err.response
      throw err
    })
  if (stored && fresh) {
    const ttl = responseTtl(fresh.headers)
    if (ttl !== undefined && ttl > 0) await cache.expire(key, ttl)
  }
  return { response, cached: fresh === undefined }
}

/** Carries a response that must not be cached out of getOrSet without storing it. */
class NotStored extends Error {
  constructor(readonly response: CachedResponse) {
    super('not stored')
  }
}
