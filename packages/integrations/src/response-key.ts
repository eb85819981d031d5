import { stableHash } from '@cache/core'
import type { RequestFacts } from './request-facts.js'

/**
 * The normalised URL of a request: lower-case host, the path as sent, query parameters sorted by name
 * (then value) so `?b=2&a=1` and `?a=1&b=2` share an entry, ignored parameters (e.g. `utm_*`) dropped.
 */
export function normaliseUrl(host: string, url: string, ignoreQuery: ReadonlyArray<string | RegExp> = []) {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const params = q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1))]
  const kept = params
    .filter(([name]) => !ignoreQuery.some((p) => (typeof p === 'string' ? p === name : p.test(name))))
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  const query = kept.length ? `?${new URLSearchParams(kept).toString()}` : ''
  return `${host.toLowerCase()}${path}${query}`
}

/**
 * The cache key of a request: `http:<hash of GET + normalised URL + the varied request headers>`
 * (HEAD shares GET's entry). Header values are trimmed; a missing header differs from an empty one.
 */
export function responseKey(
  req: RequestFacts,
  vary: readonly string[],
  ignoreQuery: ReadonlyArray<string | RegExp> = [],
): string {
  const method = req.method === 'HEAD' ? 'GET' : req.method
  const varied: Record<string, string | null> = {}
  for (const name of vary) varied[name] = req.header(name)?.trim() ?? null
  return `http:${stableHash({ m: method, u: normaliseUrl(req.host, req.url, ignoreQuery), v: varied })}`
}
