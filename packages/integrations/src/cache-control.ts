/**
 * Cache-Control parsing and the storage decision of RFC 9111 for a shared cache: what may be stored, for
 * how long it is fresh, and how long it may be served stale while one request revalidates.
 */

/** The directives of one Cache-Control header, lower-cased; valueless directives map to `true`. */
export type Directives = ReadonlyMap<string, string | true>

/** Parses `Cache-Control` (several headers joined by commas); quoted values lose their quotes. */
export function parseCacheControl(header: string | undefined | null): Directives {
  const out = new Map<string, string | true>()
  if (!header) return out
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (!name) continue
    const raw = eq < 0 ? undefined : part.slice(eq + 1).trim()
    out.set(name, raw === undefined ? true : raw.replace(/^"(.*)"$/, '$1'))
  }
  return out
}

const seconds = (v: string | true | undefined): number | undefined => {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined
  return Number(v) * 1000
}

/** Freshness of a storable response. */
export interface Freshness {
  /** Milliseconds the response is fresh. */
  freshMs: number
  /** Milliseconds after that it may still be served while one request revalidates. */
  staleMs: number
}

/** Why a response is not stored (`undefined` from `storable` means it is). */
export type NotStorableReason =
  | 'no-store'
  | 'private'
  | 'no-cache'
  | 'status'
  | 'set-cookie'
  | 'authorization'
  | 'vary'
  | 'too-large'
  | 'ttl'

/** The facts `freshness` needs about a response. */
export interface ResponseFacts {
  status: number
  cacheControl: string | undefined
  /** Request carried `Authorization`. */
  authorized: boolean
}

/**
 * How long a response is fresh and may be served stale, or why it must not be stored: `no-store`,
 * `private` and `no-cache` are never stored; `s-maxage` wins over `max-age`, `defaultTtlMs` applies when
 * neither is given; a response to an authorized request is stored only with `public`, `s-maxage` or
 * `must-revalidate` (RFC 9111 §3.5), and only when `shareAuthorized` allows it at all.
 */
export function freshness(
  facts: ResponseFacts,
  policy: { defaultTtlMs: number; statuses: readonly number[]; shareAuthorized: boolean },
): Freshness | NotStorableReason {
  const cc = parseCacheControl(facts.cacheControl)
  if (cc.has('no-store')) return 'no-store'
  if (cc.has('private')) return 'private'
  if (cc.has('no-cache')) return 'no-cache'
  if (!policy.statuses.includes(facts.status)) return 'status'
  if (
    facts.authorized &&
    !(policy.shareAuthorized && (cc.has('public') || cc.has('s-maxage') || cc.has('must-revalidate')))
  )
    return 'authorization'
  const freshMs = seconds(cc.get('s-maxage')) ?? seconds(cc.get('max-age')) ?? policy.defaultTtlMs
  const staleMs = seconds(cc.get('stale-while-revalidate')) ?? 0
  return { freshMs, staleMs }
}
