import { describe, expect, it } from 'vitest'
import { freshness, parseCacheControl } from './cache-control.js'

const policy = { defaultTtlMs: 60_000, statuses: [200, 404], shareAuthorized: false }
const facts = (cacheControl: string | undefined, status = 200, authorized = false) => ({
  status,
  cacheControl,
  authorized,
})

describe('parseCacheControl', () => {
  it('reads directives case-insensitively, with and without values, quoted or not', () => {
    const cc = parseCacheControl('Public, MAX-AGE=60, s-maxage="120", no-transform, ,')
    expect(Object.fromEntries(cc)).toEqual({
      public: true,
      'max-age': '60',
      's-maxage': '120',
      'no-transform': true,
    })
    expect(parseCacheControl(undefined).size).toBe(0)
  })
})

describe('freshness', () => {
  it('refuses no-store, private and no-cache, and statuses outside the list', () => {
    expect(freshness(facts('no-store'), policy)).toBe('no-store')
    expect(freshness(facts('private, max-age=60'), policy)).toBe('private')
    expect(freshness(facts('no-cache'), policy)).toBe('no-cache')
    expect(freshness(facts(undefined, 500), policy)).toBe('status')
  })
  it('takes s-maxage over max-age, the default without either, and stale-while-revalidate', () => {
    expect(freshness(facts('max-age=10, s-maxage=20'), policy)).toEqual({ freshMs: 20_000, staleMs: 0 })
    expect(freshness(facts('max-age=10'), policy)).toEqual({ freshMs: 10_000, staleMs: 0 })
    expect(freshness(facts(undefined, 404), policy)).toEqual({ freshMs: 60_000, staleMs: 0 })
    expect(freshness(facts('max-age=1, stale-while-revalidate=30'), policy)).toEqual({
      freshMs: 1000,
      staleMs: 30_000,
    })
    expect(freshness(facts('max-age=abc'), policy)).toEqual({ freshMs: 60_000, staleMs: 0 })
  })
  it('stores answers to authorized requests only when allowed and the response says public (RFC 9111 §3.5)', () => {
    expect(freshness(facts('public, max-age=5', 200, true), policy)).toBe('authorization')
    const share = { ...policy, shareAuthorized: true }
    expect(freshness(facts('max-age=5', 200, true), share)).toBe('authorization')
    expect(freshness(facts('public, max-age=5', 200, true), share)).toEqual({ freshMs: 5000, staleMs: 0 })
    expect(freshness(facts('s-maxage=5', 200, true), share)).toEqual({ freshMs: 5000, staleMs: 0 })
  })
})
