import { type Connection, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TieredCache } from '../src/index.js'

// A server of its own: INFO commandstats counts exactly this file's commands.
let server: StandaloneTopology
let conn: Connection

beforeAll(async () => {
  server = await startStandalone()
  conn = await connect({ url: server.url, namespace: 'batched' })
})
afterAll(async () => {
  await conn?.close()
  await server?.stop()
})

/** Calls per command since the last CONFIG RESETSTAT (scripts' own commands included, as Redis counts them). */
async function commandCalls(): Promise<Record<string, number>> {
  const info = String(await conn.send(['INFO', 'commandstats']))
  const out: Record<string, number> = {}
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1] as string] = Number(m[2])
  return out
}

const keys = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i))

describe('getManyOrSet off Cluster: one script reads and leases, one stores and releases', () => {
  for (const coherence of ['none', 'tracking'] as const) {
    it(`100 keys, 50 in L2: two script calls and one loader call (coherence ${coherence})`, async () => {
      const writer = new TieredCache<string>(conn, { namespace: `b-${coherence}`, coherence })
      const reader = new TieredCache<string>(conn, { namespace: `b-${coherence}`, coherence })
      try {
        await Promise.all([writer.ready, reader.ready])
        const cached = keys(50, (i) => `c${i}`)
        for (const k of cached) await writer.set(k, `v-${k}`, { ttl: '1h' })
        const wanted = cached.flatMap((k, i) => [k, `m${i}`])
        const asked: string[][] = []
        await conn.send(['CONFIG', 'RESETSTAT'])
        const got = await reader.getManyOrSet(
          wanted,
          (missing) => {
            asked.push(missing)
            return new Map(missing.map((k) => [k, `v-${k}`]))
          },
          { ttl: '1m', tags: ['batch'] },
        )
        const calls = await commandCalls()
        expect([...got]).toEqual(wanted.map((k) => [k, `v-${k}`]))
        expect(asked).toEqual([keys(50, (i) => `m${i}`)])
        // mget-or-lease.lua then store-release.lua (+ the INFO itself); no command per key from the client.
        expect(calls.evalsha).toBe(2)
        expect(calls.mget).toBe(1)
        expect(calls.publish).toBe(50)
        expect(calls.sadd).toBe(1)
        // Under tracking the values go as plain SETs on the NOLOOP tracker (50), otherwise inside the script.
        expect(calls.set).toBe(100)
        // The loaded values are in Redis with their tag, and stay in this process's L1.
        for (const i of [0, 25, 49]) {
          expect(await writer.get(`m${i}`)).toBe(`v-m${i}`)
          expect(reader.cachedLocally(`m${i}`)).toBe(true)
        }
        // The leases are gone: a getOrSet elsewhere reads the value, no factory.
        expect(await writer.getOrSet('m7', () => 'again')).toBe('v-m7')
        expect(await conn.send(['KEYS', '*:l:*'])).toEqual([])
        // The tag index lists them: invalidating it evicts them from L1 and L2 (other keys stay).
        await reader.invalidateTags(['batch'])
        expect(reader.cachedLocally('m3')).toBe(false)
        expect(await reader.get('m3')).toBeUndefined()
        expect(await reader.get('c3')).toBe('v-c3')
      } finally {
        await writer.clear()
        await Promise.all([writer.close(), reader.close()])
      }
    })
  }

  it('a value that does not decode: E_DECODE, no loader call, and the leases the read took are released', async () => {
    const cache = new TieredCache<string>(conn, { namespace: 'corrupt', coherence: 'none' })
    try {
      const rk = cache.redisKey('bad')
      await conn.send(['SET', rk, Buffer.from([0xc1, 0xc1, 0xc1])], { key: rk })
      let called = false
      const err = await cache
        .getManyOrSet(['free', 'bad'], (missing) => {
          called = true
          return Object.fromEntries(missing.map((k) => [k, k]))
        })
        .catch((e: unknown) => e)
      expect((err as { code?: string }).code).toBe('E_DECODE')
      expect(called).toBe(false)
      expect(await conn.send(['KEYS', '*corrupt*:l:*'])).toEqual([])
      // The free key is not stuck behind a lease: a getOrSet computes it at once.
      expect(await cache.getOrSet('free', () => 'computed')).toBe('computed')
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  for (const coherence of ['none', 'tracking'] as const)
    it(`the batched store times out (writes paused): fail-safe serves the values and they reach Redis (coherence ${coherence})`, async () => {
      const own = await connect({ url: server.url, namespace: 'batched', commandTimeout: '300ms' })
      const cache = new TieredCache<string>(own, { namespace: `paused-${coherence}`, coherence })
      try {
        await cache.ready
        const got = await cache.getManyOrSet(['p1', 'p2'], async (missing) => {
          // The read and leases are done; the store-release script now waits past the command timeout.
          await conn.send(['CLIENT', 'PAUSE', '800', 'WRITE'])
          return Object.fromEntries(missing.map((k) => [k, `v-${k}`]))
        })
        expect([...got]).toEqual([
          ['p1', 'v-p1'],
          ['p2', 'v-p2'],
        ])
        // Without coherence kept in L1 as an offline write; under tracking the tracker failed, so L1 is
        // distrusted until the pair is rebuilt (the write may land after writes on other connections).
        if (coherence === 'none') {
          expect(cache.cachedLocally('p1')).toBe(true)
          expect(cache.tierStats().l2.errors).toBeGreaterThan(0)
        }
        await waitFor('the values reached Redis', async () => {
          const n = await conn.send<number>(['EXISTS', cache.redisKey('p1'), cache.redisKey('p2')])
          return n === 2
        })
      } finally {
        await conn.send(['CLIENT', 'UNPAUSE'])
        // This connection's breaker may still be open from the timeouts (a server of this file's own).
        await cache.clear().catch(() => {})
        await cache.close()
        await own.close()
      }
    })

  it('a getOrSet in another cache waits on the lease a batch took and wakes with its value', async () => {
    const a = new TieredCache<string>(conn, { namespace: 'wait', coherence: 'none' })
    const b = new TieredCache<string>(conn, { namespace: 'wait', coherence: 'none' })
    try {
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => {
        release = r
      })
      const batch = a.getManyOrSet(['x', 'y'], async (missing) => {
        await gate
        return Object.fromEntries(missing.map((k) => [k, `a-${k}`]))
      })
      await waitFor(
        'a holds the lease of x',
        async () => (await conn.send<string[]>(['KEYS', '*:l:{x}'])).length === 1,
      )
      let called = false
      const single = b.getOrSet('x', () => {
        called = true
        return 'b-x'
      })
      const other = b.getManyOrSet(['y', 'z'], (missing) =>
        Object.fromEntries(missing.map((k) => [k, `b-${k}`])),
      )
      release()
      expect([...(await batch)]).toEqual([
        ['x', 'a-x'],
        ['y', 'a-y'],
      ])
      expect(await single).toBe('a-x')
      expect(called).toBe(false)
      expect([...(await other)]).toEqual([
        ['y', 'a-y'],
        ['z', 'b-z'],
      ])
    } finally {
      await a.clear()
      await Promise.all([a.close(), b.close()])
    }
  })
})
