import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HashRing, murmur3 } from './ring.js'

const keys = Array.from({ length: 20_000 }, (_, i) => `user:${i}`)

function owners(ring: HashRing): Map<string, string> {
  return new Map(keys.map((k) => [k, ring.lookup(k)]))
}

describe('HashRing', () => {
  it('murmur3 matches the reference vectors', () => {
    expect(murmur3('')).toBe(0)
    expect(murmur3('', 1)).toBe(0x514e28b7)
    // Deterministic and spread.
    expect(murmur3('user:1')).toBe(murmur3('user:1'))
    expect(murmur3('user:1')).not.toBe(murmur3('user:2'))
  })

  it('spreads keys evenly over the shards', () => {
    const ring = new HashRing(['a', 'b', 'c', 'd'], 160)
    const counts = new Map<string, number>()
    for (const o of owners(ring).values()) counts.set(o, (counts.get(o) ?? 0) + 1)
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(keys.length / 4 / 1.3)
      expect(n).toBeLessThan((keys.length / 4) * 1.3)
    }
  })

  it('adding a 5th shard moves about 1/5 of the keys, all of them to the new shard', () => {
    const ring = new HashRing(['a', 'b', 'c', 'd'], 160)
    const before = owners(ring)
    ring.add('e')
    const after = owners(ring)
    let moved = 0
    for (const [k, o] of after) {
      if (o !== before.get(k)) {
        moved++
        expect(o).toBe('e')
      }
    }
    const share = moved / keys.length
    expect(share).toBeGreaterThan(0.2 * 0.7)
    expect(share).toBeLessThan(0.2 * 1.3)
  })

  it('removing a shard moves only its keys; the ring is the same in every process (order-independent)', () => {
    const ring = new HashRing(['a', 'b', 'c', 'd'], 160)
    const before = owners(ring)
    expect(ring.remove('b')).toBe(true)
    expect(ring.remove('b')).toBe(false)
    for (const [k, o] of owners(ring)) {
      if (before.get(k) !== 'b') expect(o).toBe(before.get(k))
      else expect(o).not.toBe('b')
    }
    const other = new HashRing(['d', 'c', 'a'], 160)
    for (const k of keys.slice(0, 2000)) expect(other.lookup(k)).toBe(ring.lookup(k))
    expect(() => new HashRing([], 10).lookup('k')).toThrow()
  })

  it('property: adding a shard only ever moves keys to it; removing it restores every owner', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 50 }),
        (names, extra, sample) => {
          fc.pre(!names.includes(extra))
          const ring = new HashRing(names, 20)
          const before = sample.map((k) => ring.lookup(k))
          ring.add(extra)
          sample.forEach((k, i) => {
            const now = ring.lookup(k)
            if (now !== before[i]) expect(now).toBe(extra)
          })
          ring.remove(extra)
          expect(sample.map((k) => ring.lookup(k))).toEqual(before)
        },
      ),
      { numRuns: 200 },
    )
  })
})
