import { type Duration, parseOptions, zDuration } from '@cache/client'
import type { Cache } from '@cache/core'
import { z } from 'zod'
import {
  DEFAULT_CACHEABLE_STATUSES,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RESPONSE_LEASE_MS,
  DEFAULT_RESPONSE_TTL_MS,
  DEFAULT_STATUS_HEADER,
  DEFAULT_TAG_HEADER,
  MAX_ENTRY_MS,
  MIN_ENTRY_MS,
  PKG,
} from './defaults.js'
import type { RequestFacts } from './request-facts.js'
import type { StoredResponse } from './stored-response.js'

/** Options of `cacheResponses()` / `withCache()` (every adapter). */
export interface ResponseCacheOptions<Raw = unknown> {
  /** Where responses are stored: a RedisCache, TieredCache or MemoryCache of @cache/core / @cache/tiered. */
  cache: Cache
  /** Freshness of a response whose Cache-Control has no `s-maxage` / `max-age`. @default '1m' */
  ttl?: Duration
  /** The cache key of a request. @default method + normalised URL + the `vary` headers, hashed */
  key?: (req: RequestFacts<Raw>) => string
  /** Request headers that select a variant (`accept-language`); a response whose `Vary` names others is not stored. @default [] */
  vary?: readonly string[]
  /** Tags every stored response carries (or a function of the request); handlers add more. @default [] */
  tags?: readonly string[] | ((req: RequestFacts<Raw>) => readonly string[])
  /** Statuses worth storing. @default [200, 203, 204, 300, 301, 404, 410] */
  statuses?: readonly number[]
  /** Query parameters left out of the key (names or patterns, e.g. /^utm_/). @default [] */
  ignoreQuery?: ReadonlyArray<string | RegExp>
  /** Store responses to requests with `Authorization` when the response says `public`, `s-maxage` or `must-revalidate`. @default false */
  shareAuthorized?: boolean
  /** A response with Set-Cookie: `'bypass'` is never stored; `'strip'` is stored without its Set-Cookie. @default 'bypass' */
  setCookie?: 'bypass' | 'strip'
  /** Longest a request may take to produce the response that concurrent requests wait for. @default '10s' */
  lease?: Duration
  /** Larger bodies are sent but not stored. @default 1 MiB */
  maxBodyBytes?: number
  /** The response header a handler lists its tags in (comma-separated); removed before the response is sent. @default 'cache-tag' */
  tagHeader?: string
  /** Response header telling HIT / STALE / MISS / BYPASS, or false for none. @default 'x-cache' */
  statusHeader?: string | false
}

/** The resolved options. */
export interface ResolvedResponseOptions<Raw = unknown> {
  readonly cache: Cache<StoredResponse>
  readonly ttlMs: number
  readonly key: ((req: RequestFacts<Raw>) => string) | undefined
  readonly vary: readonly string[]
  readonly tags: (req: RequestFacts<Raw>) => readonly string[]
  readonly statuses: readonly number[]
  readonly ignoreQuery: ReadonlyArray<string | RegExp>
  readonly shareAuthorized: boolean
  readonly setCookie: 'bypass' | 'strip'
  readonly leaseMs: number
  readonly maxBodyBytes: number
  readonly tagHeader: string
  readonly statusHeader: string | false
}

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')

const schema = z
  .object({
    cache: z.custom<Cache>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as Cache).getOrSet === 'function' &&
        typeof (v as Cache).invalidateTags === 'function',
      'must be a Cache (RedisCache, TieredCache or MemoryCache)',
    ),
    ttl: zDuration({ min: MIN_ENTRY_MS, max: MAX_ENTRY_MS }).default(DEFAULT_RESPONSE_TTL_MS),
    key: z
      .custom<(req: RequestFacts) => string>((v) => typeof v === 'function', 'must be a function')
      .optional(),
    vary: z.array(headerName).default([]),
    tags: z
      .union([
        z.array(z.string().min(1)),
        z.custom<(req: RequestFacts) => readonly string[]>((v) => typeof v === 'function'),
      ])
      .default([]),
    statuses: z.array(z.number().int().min(100).max(599)).default([...DEFAULT_CACHEABLE_STATUSES]),
    ignoreQuery: z.array(z.union([z.string(), z.instanceof(RegExp)])).default([]),
    shareAuthorized: z.boolean().default(false),
    setCookie: z.enum(['bypass', 'strip']).default('bypass'),
    lease: zDuration({ min: 100, max: 300_000 }).default(DEFAULT_RESPONSE_LEASE_MS),
    maxBodyBytes: z.number().int().min(0).default(DEFAULT_MAX_BODY_BYTES),
    tagHeader: headerName.default(DEFAULT_TAG_HEADER),
    statusHeader: z.union([headerName, z.literal(false)]).default(DEFAULT_STATUS_HEADER),
  })
  .strict()

/** Validates and defaults the options once. */
export function resolveResponseOptions<Raw>(
  options: ResponseCacheOptions<Raw>,
): ResolvedResponseOptions<Raw> {
  const o = parseOptions(PKG, schema, options)
  const tags = o.tags
  return Object.freeze({
    cache: o.cache as Cache<StoredResponse>,
    ttlMs: o.ttl,
    key: o.key as ((req: RequestFacts<Raw>) => string) | undefined,
    vary: o.vary.map((h) => h.toLowerCase()),
    tags: typeof tags === 'function' ? (tags as (req: RequestFacts<Raw>) => readonly string[]) : () => tags,
    statuses: o.statuses,
    ignoreQuery: o.ignoreQuery,
    shareAuthorized: o.shareAuthorized,
    setCookie: o.setCookie,
    leaseMs: o.lease,
    maxBodyBytes: o.maxBodyBytes,
    tagHeader: o.tagHeader.toLowerCase(),
    statusHeader: o.statusHeader === false ? false : o.statusHeader.toLowerCase(),
  })
}
