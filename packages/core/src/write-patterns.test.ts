import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryCache } from './memory-cache.js'
import { writeBehind, writeThrough } from './write-patterns.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('writeThrough', () => {
  it('writes the source before the cache, reads through once, and deletes from both', async () => {
    const db = new Map<string, number>([['a', 1]])
    let reads = 0
    const cache = new MemoryCache<number>()
    const wt = writeThrough(cache, {
      read: async (k) => {
        reads++
        return db.get(k)
      },
      write: async (k, v) => {
        if (v < 0) throw new Error('rejected by source')
        db.set(k, v)
      },
      remove: async (k) => {
        db.delete(k)
      },
    })
    expect(await Promise.all([wt.get('a'), wt.get('a')])).toEqual([1, 1])
    expect(reads).toBe(1)
    expect(await wt.get('missing')).toBeUndefined()
    await wt.set('b', 2)
    expect(db.get('b')).toBe(2)
    expect(await cache.get('b')).toBe(2)
    await expect(wt.set('c', -1)).rejects.toThrow('rejected by source')
    expect(await cache.has('c')).toBe(false)
    await wt.delete('b')
    expect(db.has('b')).toBe(false)
    expect(await cache.has('b')).toBe(false)
    await expect(
      writeThrough(cache, { read: () => Promise.reject(new Error('down')), write: async () => {} }).get('x'),
    ).rejects.toThrow('down')
  })
})

describe('writeBehind', () => {
  it('writes the cache at once and the source in batches by size, newest value per key', async () => {
    const batches: Array<Array<{ key: string; value: number }>> = []
    const cache = new MemoryCache<number>()
    const wb = writeBehind(cache, async (b) => void batches.push(b), { maxBatch: 3, flushInterval: '1h' })
    await wb.set('a', 1)
    await wb.set('a', 2)
    await wb.set('b', 1)
    expect(await cache.get('a')).toBe(2)
    expect(batches).toEqual([])
    await wb.set('c', 1)
    await wb.flush()
    expect(batches).toEqual([
      [
        { key: 'a', value: 2 },
        { key: 'b', value: 1 },
        { key: 'c', value: 1 },
      ],
    ])
    await wb.close()
  })

  it('flushes on a timer (fake clock) and on close', async () => {
    vi.useFakeTimers()
    const written: string[] = []
    const wb = writeBehind(
      new MemoryCache<number>(),
      async (b) => void written.push(...b.map((e) => e.key)),
      {
        flushInterval: '1s',
      },
    )
    await wb.set('a', 1)
    expect(wb.pending).toBe(1)
    await vi.advanceTimersByTimeAsync(1000)
    expect(written).toEqual(['a'])
    await wb.set('b', 1)
    await wb.close()
    expect(written).toEqual(['a', 'b'])
    await expect(wb.set('c', 1)).rejects.toMatchObject({ code: 'E_CLOSED' })
    await wb.close()
  })

  it('keeps a failed batch queued and retries it, without overwriting newer values', async () => {
    let fail = true
    const written = new Map<string, number>()
    const wb = writeBehind(
      new MemoryCache<number>(),
      async (b) => {
        if (fail) throw new Error('source down')
        for (const e of b) written.set(e.key, e.value)
      },
      { flushInterval: '1h' },
    )
    await wb.set('a', 1)
    await wb.set('b', 1)
    await expect(wb.flush()).rejects.toThrow('source down')
    expect(wb.pending).toBe(2)
    await wb.set('a', 5)
    fail = false
    await wb.close()
    expect(Object.fromEntries(written)).toEqual({ a: 5, b: 1 })
  })

  it('applies backpressure at maxQueue and validates options', async () => {
    const wb = writeBehind(new MemoryCache<number>(), async () => {}, {
      maxQueue: 2,
      maxBatch: 10,
      flushInterval: '1h',
    })
    for (let i = 0; i < 5; i++) await wb.set(`k${i}`, i)
    expect(wb.pending).toBeLessThanOrEqual(2)
    await wb.close()
    expect(() => writeBehind(new MemoryCache(), async () => {}, { maxBatch: 0 })).toThrow(/"maxBatch"/)
    expect(() => writeBehind(new MemoryCache(), async () => {}, { flushInterval: 'x' })).toThrow(
      /"flushInterval"/,
    )
  })
})
