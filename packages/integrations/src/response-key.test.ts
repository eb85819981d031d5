import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { RequestFacts } from './request-facts.js'
import { normaliseUrl, responseKey } from './response-key.js'

const facts = (
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
  host = 'Example.com',
): RequestFacts => ({
  method,
  host,
  url,
  header: (n) => headers[n],
  raw: undefined,
})

describe('normaliseUrl', () => {
  it('lower-cases the host, sorts the query, drops ignored parameters and an empty query', () => {
    expect(normaliseUrl('A.com', '/p?b=2&a=1&utm_x=1', [/^utm_/])).toBe('a.com/p?a=1&b=2')
    expect(normaliseUrl('a.com', '/p?')).toBe('a.com/p')
    expect(normaliseUrl('a.com', '/p?a=2&a=1')).toBe('a.com/p?a=1&a=2')
    expect(normaliseUrl('a.com', '/P')).not.toBe(normaliseUrl('a.com', '/p'))
  })
  it('gives one URL for every order of the same parameters (property)', () => {
    const param = fc.tuple(fc.string({ minLength: 1, maxLength: 5 }), fc.string({ maxLength: 5 }))
    const orders = fc
      .array(param, { maxLength: 6 })
      .chain((ps) =>
        fc.tuple(fc.constant(ps), fc.shuffledSubarray(ps, { minLength: ps.length, maxLength: ps.length })),
      )
    fc.assert(
      fc.property(orders, ([params, shuffled]) => {
        const q = (ps: Array<[string, string]>) => `/x?${new URLSearchParams(ps).toString()}`
        expect(normaliseUrl('h', q(shuffled))).toBe(normaliseUrl('h', q(params)))
      }),
    )
  })
})

describe('responseKey', () => {
  it('shares GET and HEAD, and separates methods, hosts and varied headers', () => {
    const base = responseKey(facts('/a'), [])
    expect(responseKey(facts('/a', {}, 'HEAD'), [])).toBe(base)
    expect(responseKey(facts('/a', {}, 'GET', 'other.com'), [])).not.toBe(base)
    expect(responseKey(facts('/a', { 'accept-language': 'fr' }), ['accept-language'])).not.toBe(
      responseKey(facts('/a', { 'accept-language': 'en' }), ['accept-language']),
    )
    // a missing header differs from an empty one
    expect(responseKey(facts('/a', { 'accept-language': '' }), ['accept-language'])).not.toBe(
      responseKey(facts('/a'), ['accept-language']),
    )
    expect(base).toMatch(/^http:[\w-]{32}$/)
  })
})
