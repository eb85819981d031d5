import { describe, expect, it } from 'vitest'
import { L1Store } from './l1.js'

const entry = (key: string, value: unknown = 1, part = key) => ({
  key,
  part,
  value,
  exp: 1e15,
  fresh: 1e15,
  stale: 1e15,
  ttl: 60_000,
  gen: 0,
})

describe('L1Store', () => {
  it('is bounded by entries, evicting the oldest entry not read since the hand last passed', () => {
    const l1 = new L1Store(3, 1e9)
    for (const k of ['a', 'b', 'c']) l1.set(entry(k))
    ;(l1.map.get('a') as { used: boolean }).used = true
    l1.set(entry('d'))
    expect([...l1.map.keys()].sort()).toEqual(['a', 'c', 'd'])
    expect(l1.evictions).toBe(1)
    expect(l1.size).toBe(3)
  })

  it('keeps evicting the oldest unread entry across many evictions; a read one goes to the back once', () => {
    const l1 = new L1Store(100, 1e9)
    for (let i = 0; i < 100; i++) l1.set(entry(`k${i}`))
    ;(l1.map.get('k10') as { used: boolean }).used = true
    for (let i = 100; i < 150; i++) l1.set(entry(`k${i}`))
    // k0..k50 but k10 are gone (k10 had its second chance when k110 came in: it now follows k110).
    expect(l1.evictions).toBe(50)
    expect(l1.map.has('k9')).toBe(false)
    expect(l1.map.has('k10')).toBe(true)
    expect(l1.map.has('k50')).toBe(false)
    expect(l1.map.has('k51')).toBe(true)
    // k51..k99 and k100..k110 go first, then k10 (not read again).
    for (let i = 150; i < 210; i++) l1.set(entry(`k${i}`))
    expect(l1.map.has('k110')).toBe(false)
    expect(l1.map.has('k10')).toBe(true)
    l1.set(entry('k210'))
    expect(l1.map.has('k10')).toBe(false)
    expect(l1.map.has('k111')).toBe(true)
    expect(l1.size).toBe(100)
    // After a clear, eviction starts over from the new oldest entry.
    l1.clear()
    for (let i = 0; i < 101; i++) l1.set(entry(`n${i}`))
    expect(l1.map.has('n0')).toBe(false)
    expect(l1.map.has('n1')).toBe(true)
  })

  it('is bounded by estimated bytes, and replacing an entry frees its old size', () => {
    const l1 = new L1Store(100, 10_000)
    l1.set(entry('big', 'x'.repeat(1500)))
    const before = l1.bytes
    expect(before).toBeGreaterThan(1500)
    l1.set(entry('big', 'small'))
    expect(l1.bytes).toBeLessThan(before)
    l1.set(entry('big', 'x'.repeat(1500)))
    l1.set(entry('other', 'y'.repeat(3500)))
    expect(l1.bytes).toBeLessThanOrEqual(10_000)
    expect(l1.map.has('big')).toBe(false)
  })

  it('finds entries by escaped part (invalidation messages) without confusing literal keys', () => {
    const l1 = new L1Store(10, 1e9)
    l1.set(entry('a:b', 1, 'a%3Ab'))
    l1.set(entry('a%3Ab', 2, 'a%253Ab'))
    expect(l1.byPart('a%3Ab')?.value).toBe(1)
    expect(l1.byPart('a%253Ab')?.value).toBe(2)
    expect(l1.deletePart('a%3Ab')).toBe(true)
    expect(l1.map.has('a:b')).toBe(false)
    expect(l1.map.has('a%3Ab')).toBe(true)
    expect(l1.deletePart('a%3Ab')).toBe(false)
    expect(l1.delete('a%3Ab')).toBe(true)
    expect(l1.delete('a%3Ab')).toBe(false)
    l1.set(entry('z'))
    l1.clear()
    expect(l1.size).toBe(0)
    expect(l1.bytes).toBe(0)
  })
})
