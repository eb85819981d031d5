import { isCacheError } from '@cache/client'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { MAX_MEMORY_FRACTION } from './defaults.js'
import { availableMemory } from './memory.js'
import { MemoryCache } from './memory-cache.js'

type Op = { op: 'get' | 'set'; k: number }
const ops = fc.array(
  fc.record({ op: fc.constantFrom<'get' | 'set'>('get', 'set'), k: fc.integer({ min: 0, max: 7 }) }),
  { maxLength: 60 },
)

/** The simplest possible model: recency/frequency stamps, victim = the minimum. */
function model(policy: 'lru' | 'lfu', capacity: number, script: Op[]) {
  const entries = new Map<number, { freq: number; stamp: number }>()
  let clock = 0
  const states: number[][] = []
  for (const { op, k } of script) {
    const e = entries.get(k)
    if (op === 'get') {
      if (e) {
        e.freq++
        e.stamp = ++clock
      }
    } else {
      entries.set(k, { freq: 1, stamp: ++clock })
      while (entries.size > capacity) {
        let victim: number | undefined
        let best: { freq: number; stamp: number } | undefined
        for (const [key, s] of entries) {
          const better =
            !best ||
            (policy === 'lfu'
              ? s.freq < best.freq || (s.freq === best.freq && s.stamp < best.stamp)
              : s.stamp < best.stamp)
          if (better) {
            best = s
            victim = key
          }
        }
        entries.delete(victim as number)
      }
    }
    states.push([...entries.keys()].sort())
  }
  return states
}

describe('MemoryCache eviction', () => {
  for (const policy of ['lru', 'lfu'] as const) {
    it(`${policy}: the kept keys always equal a simple model's`, async () => {
      await fc.assert(
        fc.asyncProperty(ops, fc.integer({ min: 1, max: 4 }), async (script, capacity) => {
          const cache = new MemoryCache<number>({ eviction: policy, maxEntries: capacity })
          const expected = model(policy, capacity, script)
          for (const [i, { op, k }] of script.entries()) {
            if (op === 'get') await cache.get(String(k))
            else await cache.set(String(k), k)
            const kept: number[] = []
            for (let key = 0; key <= 7; key++) if (await cache.has(String(key))) kept.push(key)
            expect(kept).toEqual(expected[i])
          }
        }),
      )
    })
  }

  it('stays within the byte budget whatever is written, evicting the coldest first', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 400 })), {
          maxLength: 50,
        }),
        async (writes) => {
          const cache = new MemoryCache<number>({ maxBytes: 1000, sizeOf: (v) => v as number })
          for (const [k, size] of writes) {
            await cache.set(String(k), size)
            const s = cache.stats()
            expect(s.bytes).toBeLessThanOrEqual(1000)
            expect(await cache.get(String(k))).toBe(size)
          }
        },
      ),
    )
  })

  it('counts evictions, entries and bytes in stats', async () => {
    const cache = new MemoryCache({ maxEntries: 2 })
    for (const k of ['a', 'b', 'c']) await cache.set(k, k)
    const s = cache.stats()
    expect(s.entries).toBe(2)
    expect(s.evictions).toBe(1)
    expect(s.bytes).toBeGreaterThan(0)
    expect(cache.size).toBe(2)
  })
})

describe('MemoryCache time and limits', () => {
  it('never returns an expired entry (injectable clock), to the millisecond', async () => {
    let now = 1_000_000
    const cache = new MemoryCache({ now: () => now })
    await cache.set('k', 'v', { ttl: '1s' })
    now += 999
    expect(await cache.get('k')).toBe('v')
    expect(await cache.ttl('k')).toBe(1)
    now += 1
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.has('k')).toBe(false)
    expect(cache.stats().entries).toBe(0)
  })

  it('sweeps expired entries out of memory (on demand and on its interval)', async () => {
    vi.useFakeTimers()
    try {
      const cache = new MemoryCache({ sweepInterval: '1m' })
      await cache.set('short', 1, { ttl: '1s' })
      await cache.set('long', 1, { ttl: '1h' })
      vi.advanceTimersByTime(60_000)
      expect(cache.stats().entries).toBe(1)
      await cache.set('short2', 1, { ttl: '1s' })
      vi.setSystemTime(Date.now() + 2000)
      expect(cache.purgeExpired()).toBe(1)
      expect(cache.stats().entries).toBe(1)
      await cache.close()
      expect(new MemoryCache({ sweepInterval: false }).purgeExpired()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('works under vi fake timers (Date.now)', async () => {
    vi.useFakeTimers()
    try {
      const cache = new MemoryCache({ defaultTtl: '5m' })
      await cache.set('k', 1)
      vi.advanceTimersByTime(5 * 60_000 - 1)
      expect(await cache.get('k')).toBe(1)
      vi.advanceTimersByTime(1)
      expect(await cache.get('k')).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })

  it('derives the default byte budget from available memory, never above 80% of it', () => {
    const cache = new MemoryCache()
    const available = availableMemory()
    expect(cache.options.maxBytes).toBeGreaterThan(0)
    expect(cache.options.maxBytes).toBeLessThanOrEqual(available * MAX_MEMORY_FRACTION)
  })

  it('rejects bad options with E_INVALID_OPTION naming the field', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ maxEntries: 0 }, 'maxEntries'],
      [{ maxBytes: -1 }, 'maxBytes'],
      [{ maxBytes: Number.MAX_SAFE_INTEGER }, 'maxBytes'],
      [{ eviction: 'fifo' }, 'eviction'],
      [{ defaultTtl: '0s' }, 'defaultTtl'],
      [{ defaultTtl: '31d' }, 'defaultTtl'],
      [{ sizeOf: 5 }, 'sizeOf'],
      [{ sweepInterval: '1ms' }, 'sweepInterval'],
      [{ unknown: 1 }, 'unknown'],
    ]
    for (const [options, field] of bad) {
      try {
        new MemoryCache(options as never)
        expect.unreachable(field)
      } catch (err) {
        expect(isCacheError(err, 'E_INVALID_OPTION')).toBe(true)
        expect((err as { field: string }).field).toBe(field)
      }
    }
  })

  it('mset rejects a non-array; setIfAbsent on an expired key stores', async () => {
    let now = 0
    const cache = new MemoryCache({ now: () => now })
    await expect(cache.mset('x' as never)).rejects.toThrow(/"entries"/)
    await cache.set('k', 1, { ttl: 1000 })
    now += 1000
    expect(await cache.setIfAbsent('k', 2)).toBe(true)
    expect(await cache.get('k')).toBe(2)
  })

  it('a failed factory is not cached and a later getOrSet runs again', async () => {
    const cache = new MemoryCache()
    await expect(cache.getOrSet('k', () => Promise.reject(new Error('no')))).rejects.toThrow('no')
    await expect(cache.getOrSet('k', () => undefined as never)).rejects.toMatchObject({ code: 'E_ENCODE' })
    expect(await cache.getOrSet('k', () => 3)).toBe(3)
  })
})

describe('MemoryCache observability', () => {
  it('publishes invalidations on cache:core:invalidate', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
    const events: unknown[] = []
    const listener = (e: unknown) => events.push(e)
    subscribe('cache:core:invalidate', listener)
    try {
      const cache = new MemoryCache({ namespace: 'obs' })
      await cache.set('a', 1, { tags: ['t'] })
      await cache.invalidateTags(['t'])
      await cache.invalidate('b')
      await cache.deletePattern('x*')
      await cache.clear()
      expect(events).toEqual([
        { namespace: 'obs', kind: 'tags', target: ['t'], removed: 1 },
        { namespace: 'obs', kind: 'key', target: 'b', removed: 0 },
        { namespace: 'obs', kind: 'pattern', target: 'x*', removed: 0 },
        { namespace: 'obs', kind: 'clear' },
      ])
    } finally {
      unsubscribe('cache:core:invalidate', listener)
    }
  })
})
