import { createHash } from 'node:crypto'
import type { CapturedResponse } from './request-facts.js'

/** A response as it is kept in the cache. */
export interface StoredResponse {
  status: number
  /** Header pairs without hop-by-hop headers, Set-Cookie, Content-Length and the tag header. */
  headers: Array<[string, string]>
  body: Uint8Array
  etag: string
  /** When it was stored (ms since epoch). */
  storedAt: number
  /** Fresh until (ms since epoch). */
  freshUntil: number
  /** May be served stale, while one request revalidates, until (ms since epoch). */
  staleUntil: number
}

/** Headers that describe one connection or one message, never a stored representation. */
const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'set-cookie',
  'date',
  'age',
])

/** A strong ETag of a body: SHA-1, base64url. */
export function bodyEtag(body: Uint8Array): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/** The stored form of a captured response (its own ETag kept, else one computed from the body). */
export function toStored(
  captured: CapturedResponse,
  drop: ReadonlySet<string>,
  now: number,
  freshMs: number,
  staleMs: number,
): StoredResponse {
  const headers = captured.headers.filter(([k]) => !NOT_STORED.has(k) && !drop.has(k))
  const own = headers.find(([k]) => k === 'etag')?.[1]
  return {
    status: captured.status,
    headers: headers.filter(([k]) => k !== 'etag'),
    body: captured.body,
    etag: own ?? bodyEtag(captured.body),
    storedAt: now,
    freshUntil: now + freshMs,
    staleUntil: now + freshMs + staleMs,
  }
}

/** True when a value read from the cache has the stored shape (anything else is ignored as a miss). */
export function isStored(value: unknown): value is StoredResponse {
  const v = value as StoredResponse
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.status === 'number' &&
    Array.isArray(v.headers) &&
    v.body instanceof Uint8Array &&
    typeof v.etag === 'string' &&
    typeof v.freshUntil === 'number' &&
    typeof v.staleUntil === 'number'
  )
}

/** RFC 9110 §13.1.2 weak comparison of `If-None-Match` against an ETag (`*` matches any). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  const bare = etag.replace(/^W\//, '')
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || t.replace(/^W\//, '') === bare)
}
