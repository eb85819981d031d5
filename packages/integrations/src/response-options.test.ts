import { MemoryCache } from '@cache/core'
import { codeOfSync } from '@cache/tools'
import { describe, expect, it } from 'vitest'
import { resolveResponseOptions } from './response-options.js'

describe('response cache options', () => {
  const cache = new MemoryCache()
  it('default every field once', () => {
    const o = resolveResponseOptions({ cache })
    expect(o.ttlMs).toBe(60_000)
    expect(o.leaseMs).toBe(10_000)
    expect(o.setCookie).toBe('bypass')
    expect(o.statusHeader).toBe('x-cache')
    expect(o.tags({} as never)).toEqual([])
    expect(Object.isFrozen(o)).toBe(true)
  })
  it('reject bad input with E_INVALID_OPTION naming the field', () => {
    const field = (input: unknown) => {
      const code = codeOfSync(() => resolveResponseOptions(input as never))
      try {
        resolveResponseOptions(input as never)
      } catch (err) {
        return [code, (err as { field?: string }).field]
      }
      return [code]
    }
    expect(field({})).toEqual(['E_INVALID_OPTION', 'cache'])
    expect(field({ cache, ttl: 10 })).toEqual(['E_INVALID_OPTION', 'ttl'])
    expect(field({ cache, vary: ['bad header'] })).toEqual(['E_INVALID_OPTION', 'vary.0'])
    expect(field({ cache, setCookie: 'keep' })).toEqual(['E_INVALID_OPTION', 'setCookie'])
    expect(field({ cache, nope: 1 })).toEqual(['E_INVALID_OPTION', 'nope'])
  })
})
