import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BoundedMap } from './bounded-map.js'

describe('BoundedMap', () => {
  it('keeps at most max entries and always the most recent max / 2', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 500 }),
        (max, keys) => {
          const m = new BoundedMap<number, number>(max)
          for (const [i, k] of keys.entries()) m.set(k, i)
          expect(m.size).toBeLessThanOrEqual(2 * Math.ceil(max / 2))
          const recent = new Map<number, number>()
          for (let i = keys.length - 1; i >= 0 && recent.size < Math.ceil(max / 2); i--)
            if (!recent.has(keys[i]!)) recent.set(keys[i]!, i)
          for (const [k, i] of recent) expect(m.get(k)).toBe(i)
        },
      ),
    )
  })

  it('delete and clear forget an entry in either generation', () => {
    const m = new BoundedMap<string, number>(2)
    m.set('a', 1)
    m.set('b', 2)
    expect(m.get('a')).toBe(1)
    m.delete('a')
    expect(m.get('a')).toBeUndefined()
    m.clear()
    expect(m.get('b')).toBeUndefined()
    expect(m.size).toBe(0)
  })
})
