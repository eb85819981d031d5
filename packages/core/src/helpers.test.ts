import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CachedResponse,
  cacheLlm,
  cacheQuery,
  cacheResponse,
  llmCacheKey,
  queryCacheKey,
  responseCacheKey,
  responseTtl,
  stableHash,
  stableStringify,
} from './helpers.js'
import { MemoryCache } from './memory-cache.js'

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed))
  if (value && typeof value === 'object') {
    const keys = Object.keys(value)
    const rotated = keys
      .slice(seed % Math.max(1, keys.length))
      .concat(keys.slice(0, seed % Math.max(1, keys.length)))
    return Object.fromEntries(
      rotated.reverse().map((k) => [k, shuffleKeys((value as Record<string, unknown>)[k], seed)]),
    )
  }
  return value
}

describe('stable keys', () => {
  it('equal values hash equally whatever the key order; different values differ', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(stableStringify(shuffleKeys(value, seed))).toBe(stableStringify(value))
        expect(stableHash(shuffleKeys(value, seed))).toBe(stableHash(value))
      }),
    )
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(stableStringify(a) !== stableStringify(b))
        expect(stableHash(a)).not.toBe(stableHash(b))
      }),
    )
    expect(stableStringify({ n: 10n })).toBe('{"n":"10n"}')
  })

  it('llmCacheKey depends on model, prompt and every parameter, not on their order', () => {
    const base = { model: 'm1', prompt: 'hi', params: { temperature: 0, top_p: 1 } }
    const key = llmCacheKey(base)
    expect(key).toMatch(/^llm:m1:/)
    expect(llmCacheKey({ prompt: 'hi', params: { top_p: 1, temperature: 0 }, model: 'm1' })).toBe(key)
    expect(llmCacheKey({ ...base, model: 'm2' })).not.toBe(key)
    expect(llmCacheKey({ ...base, prompt: 'hi!' })).not.toBe(key)
    expect(llmCacheKey({ ...base, params: { temperature: 0.1, top_p: 1 } })).not.toBe(key)
    expect(llmCacheKey({ model: 'm1', messages: [{ role: 'user', content: 'hi' }] })).not.toBe(key)
    expect(() => llmCacheKey({ model: '', prompt: 'x' })).toThrow(/"model"/)
    expect(() => llmCacheKey({ model: 'm' })).toThrow(/"prompt"/)
  })

  it('queryCacheKey depends on text and parameters', () => {
    expect(queryCacheKey('select 1', [1])).toBe(queryCacheKey('select 1', [1]))
    expect(queryCacheKey('select 1', [1])).not.toBe(queryCacheKey('select 1', [2]))
    expect(() => queryCacheKey('')).toThrow(/"query"/)
  })
})

describe('LLM and query caching', () => {
  it('calls the model once for identical requests, concurrent or later; errors are not cached', async () => {
    const cache = new MemoryCache<string>()
    let calls = 0
    const call = async () => {
      calls++
      return 'answer'
    }
    const req = { model: 'm', prompt: 'p', params: { temperature: 0 } }
    expect(await Promise.all([cacheLlm(cache, req, call), cacheLlm(cache, req, call)])).toEqual([
      'answer',
      'answer',
    ])
    expect(await cacheLlm(cache, { ...req, params: { temperature: 0 } }, call)).toBe('answer')
    expect(calls).toBe(1)
    await expect(
      cacheLlm(cache, { ...req, prompt: 'q' }, () => Promise.reject(new Error('rate limited'))),
    ).rejects.toThrow('rate limited')
    expect(await cacheLlm(cache, { ...req, prompt: 'q' }, call)).toBe('answer')
  })

  it('caches query results and invalidates them by tag', async () => {
    const cache = new MemoryCache<number[]>()
    let runs = 0
    const run = async () => {
      runs++
      return [runs]
    }
    const q = 'select id from users where org = $1'
    expect(await cacheQuery(cache, q, ['a'], run, { tags: ['users'] })).toEqual([1])
    expect(await cacheQuery(cache, q, ['a'], run, { tags: ['users'] })).toEqual([1])
    expect(await cacheQuery(cache, q, ['b'], run, { tags: ['users'] })).toEqual([2])
    expect(await cache.invalidateTags(['users'])).toBe(2)
    expect(await cacheQuery(cache, q, ['a'], run)).toEqual([3])
  })
})

describe('HTTP response caching', () => {
  const ok = (headers: Record<string, string> = {}, status = 200): CachedResponse => ({
    status,
    headers,
    body: 'hello',
  })

  it('caches GET responses, shares concurrent fetches and honours max-age', async () => {
    const cache = new MemoryCache<CachedResponse>()
    let fetches = 0
    const fetch = async () => {
      fetches++
      return ok({ 'Cache-Control': 'public, max-age=120' })
    }
    const req = { url: '/api/items?page=1' }
    const [a, b] = await Promise.all([cacheResponse(cache, req, fetch), cacheResponse(cache, req, fetch)])
    expect(a.response.body).toBe('hello')
    expect(b.response.body).toBe('hello')
    const again = await cacheResponse(cache, req, fetch)
    expect(again.cached).toBe(true)
    expect(fetches).toBe(1)
    const ttl = await cache.ttl(responseCacheKey(req))
    expect(ttl).toBeGreaterThan(100_000)
    expect(ttl).toBeLessThanOrEqual(120_000)
  })

  it('never stores no-store/private responses, uncacheable statuses or non-GET requests', async () => {
    const cache = new MemoryCache<CachedResponse>()
    let fetches = 0
    const fetchWith = (r: CachedResponse) => async () => {
      fetches++
      return r
    }
    for (const [req, r] of [
      [{ url: '/a' }, ok({ 'cache-control': 'no-store' })],
      [{ url: '/b' }, ok({ 'cache-control': 'private, max-age=60' })],
      [{ url: '/c' }, ok({}, 500)],
      [{ url: '/d', method: 'POST' }, ok()],
    ] as const) {
      const first = await cacheResponse(cache, req, fetchWith(r))
      const second = await cacheResponse(cache, req, fetchWith(r))
      expect(first.cached).toBe(false)
      expect(second.cached).toBe(false)
    }
    expect(fetches).toBe(8)
    expect(cache.stats().entries).toBe(0)
  })

  it('keys vary by the chosen request headers only', () => {
    const vary = ['Accept-Language']
    const en = responseCacheKey({ url: '/x', headers: { 'accept-language': 'en', cookie: 'a' } }, vary)
    expect(responseCacheKey({ url: '/x', headers: { 'Accept-Language': 'en', cookie: 'b' } }, vary)).toBe(en)
    expect(responseCacheKey({ url: '/x', headers: { 'accept-language': 'fr' } }, vary)).not.toBe(en)
    expect(responseCacheKey({ url: '/x', method: 'HEAD' })).not.toBe(responseCacheKey({ url: '/x' }))
    expect(() => responseCacheKey({ url: '' })).toThrow(/"url"/)
  })

  it('reads the TTL from Cache-Control', () => {
    expect(responseTtl({})).toBeUndefined()
    expect(responseTtl({ 'cache-control': 'public' })).toBeUndefined()
    expect(responseTtl({ 'cache-control': 'max-age=60' })).toBe(60_000)
    expect(responseTtl({ 'Cache-Control': 's-maxage=5, max-age=60' })).toBe(5000)
    expect(responseTtl({ 'cache-control': 'max-age=0' })).toBe(0)
    expect(responseTtl({ 'cache-control': 'no-cache' })).toBe(0)
    expect(responseTtl({ 'cache-control': 'max-age=99999999' })).toBe(30 * 86_400_000)
  })
})
