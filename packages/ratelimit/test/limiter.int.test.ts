import diagnostics from 'node:diagnostics_channel'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  ALGORITHMS,
  CombinedLimiter,
  decisionChannel,
  RateLimiter,
  type RateLimiterOptions,
} from '../src/index.js'

const { standalone, sentinel, cluster } = inject('redis')

describe('RateLimiter (standalone)', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connect({ url: standalone.url, namespace: uniquePrefix('rl') })
  })
  afterAll(async () => {
    await conn?.close()
  })

  it.each<[string, Partial<RateLimiterOptions> & Record<string, unknown>, string]>([
    ['unknown algorithm', { algorithm: 'leaky' as never }, 'algorithm'],
    ['limit 0', { limit: 0 }, 'limit'],
    ['fractional limit', { limit: 1.5 }, 'limit'],
    ['window 0', { window: 0 }, 'window'],
    ['window over 30d', { window: '31d' }, 'window'],
    ['bad window string', { window: 'soon' }, 'window'],
    ['burst on a window algorithm', { burst: 5 }, 'burst'],
    ['unsafe name', { name: 'a:b' }, 'name'],
    ['unknown option', { limt: 5 }, 'limt'],
    ['bad outage policy', { outage: 'ignore' as never }, 'outage'],
    ['now not a function', { now: 5 as never }, 'now'],
    [
      'duplicate variant names',
      {
        variants: [
          { name: 'a', weight: 1 },
          { name: 'a', weight: 1 },
        ],
      },
      'variants',
    ],
    ['limit × window too large', { limit: 1_000_000_000, window: '30d' }, 'limit'],
  ])('rejects %s with E_INVALID_OPTION naming the field', (_label, override, field) => {
    const options = { algorithm: 'fixed-window', limit: 10, window: '1s', ...override } as RateLimiterOptions
    expect(() => new RateLimiter(conn, options)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field }),
    )
  })

  it('rejects bad arguments with typed errors naming them', async () => {
    const l = new RateLimiter(conn, { algorithm: 'gcra', limit: 10, window: '1s', burst: 4 })
    for (const cost of [0, -1, 1.5, Number.NaN, '2' as never]) {
      await expect(l.consume('k', { cost })).rejects.toMatchObject({
        code: 'E_INVALID_ARGUMENT',
        field: 'cost',
      })
    }
    await expect(l.consume('')).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', field: 'key' })
    await expect(l.consume(5 as never)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', field: 'key' })
    // the capacity of GCRA is its burst (4), not its limit (10)
    await expect(l.consume('k', { cost: 5 })).rejects.toMatchObject({
      code: 'E_COST_EXCEEDS_LIMIT',
      capacity: 4,
      cost: 5,
    })
    await expect(l.block('k', -1)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', field: 'duration' })
    await expect(l.block('k', 'forever')).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'duration',
    })
  })

  it.each(ALGORITHMS)('%s: weighted costs; a denied request consumes nothing', async (algorithm) => {
    const l = new RateLimiter(conn, { algorithm, limit: 100, window: '1h', blockCache: false })
    expect(await l.consume('llm', { cost: 60 })).toMatchObject({ allowed: true, remaining: 40 })
    const denied = await l.consume('llm', { cost: 50 })
    expect(denied).toMatchObject({ allowed: false, remaining: 40 })
    expect(denied.retryAfterMs).toBeGreaterThan(0)
    expect(await l.consume('llm', { cost: 40 })).toMatchObject({ allowed: true, remaining: 0 })
    await expect(l.consume('llm', { cost: 101 })).rejects.toMatchObject({ code: 'E_COST_EXCEEDS_LIMIT' })
  })

  it('peek reports without consuming; reset forgets', async () => {
    const l = new RateLimiter(conn, { algorithm: 'sliding-log', limit: 3, window: '1m' })
    await l.consume('p')
    expect(await l.peek('p')).toMatchObject({ allowed: true, remaining: 2 })
    expect(await l.peek('p')).toMatchObject({ allowed: true, remaining: 2 })
    await l.consume('p', { cost: 2 })
    expect(await l.peek('p')).toMatchObject({ allowed: false, remaining: 0 })
    await l.reset('p')
    expect(await l.consume('p')).toMatchObject({ allowed: true, remaining: 2 })
  })

  it('block(): denied in this process without a round trip, and in other processes from Redis', async () => {
    const a = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 5, window: '1m', name: 'blk' })
    const b = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 5, window: '1m', name: 'blk' })
    await a.block('bad', '1m')
    const here = await a.consume('bad')
    expect(here).toMatchObject({ allowed: false, source: 'cache' })
    expect(here.retryAfterMs).toBeGreaterThan(59_000)
    expect(a.stats().cacheHits).toBe(1)
    const there = await b.consume('bad')
    expect(there).toMatchObject({ allowed: false, source: 'redis' })
    expect(there.rules[0]!.blocked).toBe(true)
    await a.reset('bad')
    expect(await a.consume('bad')).toMatchObject({ allowed: true, source: 'redis' })
  })

  it('the block cache answers repeated denials in-process, only for costs at least as large', async () => {
    const l = new RateLimiter(conn, { algorithm: 'token-bucket', limit: 10, window: '1h' })
    await l.consume('flood', { cost: 8 })
    expect(await l.consume('flood', { cost: 5 })).toMatchObject({ allowed: false, source: 'redis' })
    expect(await l.consume('flood', { cost: 6 })).toMatchObject({ allowed: false, source: 'cache' })
    // a smaller request may still fit: it goes to Redis
    expect(await l.consume('flood', { cost: 2 })).toMatchObject({ allowed: true, source: 'redis' })
  })

  it('penalty: a denial blocks the key for the penalty duration', async () => {
    const l = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 1,
      window: '1s',
      penalty: '1m',
      blockCache: false,
    })
    await l.consume('abuser')
    const denied = await l.consume('abuser')
    expect(denied.allowed).toBe(false)
    expect(denied.retryAfterMs).toBeGreaterThanOrEqual(59_000)
    expect(denied.rules[0]!.blocked).toBe(true)
  })

  it('A/B variants: keys split by a stable hash, each variant with its own limit and state', async () => {
    const l = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 2,
      window: '1h',
      name: 'ab',
      variants: [
        { name: 'control', weight: 1 },
        { name: 'generous', weight: 1, limit: 5 },
      ],
    })
    const seen = new Map<string, number>()
    for (let i = 0; i < 40; i++) {
      const r = await l.consume(`user-${i}`)
      seen.set(r.rule, r.limit)
      expect((await l.consume(`user-${i}`)).rule).toBe(r.rule) // stable per key
    }
    expect(Object.fromEntries(seen)).toEqual({ 'ab.control': 2, 'ab.generous': 5 })
  })

  it('adaptive: the limit scales down with the load signal', async () => {
    let load = 0
    const l = new RateLimiter(conn, {
      algorithm: 'gcra',
      limit: 10,
      window: '1h',
      adaptive: { load: () => load, minScale: 0.3 },
    })
    expect((await l.peek('a')).limit).toBe(10)
    load = 1
    expect((await l.peek('a')).limit).toBe(3)
    let allowed = 0
    for (let i = 0; i < 6; i++) if ((await l.consume('a')).allowed) allowed++
    expect(allowed).toBe(3)
    load = Number.NaN // a broken signal counts as no load
    expect((await l.peek('b')).limit).toBe(10)
  })

  it('analytics: allowed and denied per rule and key, in Redis and in-process; decisions on diagnostics_channel', async () => {
    const l = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 2,
      window: '1h',
      name: 'an',
      analytics: true,
    })
    const events: unknown[] = []
    const listener = (m: unknown) => events.push(m)
    diagnostics.subscribe(decisionChannel.name, listener)
    try {
      for (let i = 0; i < 5; i++) await l.consume('k', { cost: 1 })
    } finally {
      diagnostics.unsubscribe(decisionChannel.name, listener)
    }
    // denials after the first are answered by the block cache, so Redis counts 2 allowed + 1 denied
    expect(await l.keyStats('k')).toEqual({ an: { allowed: 2, denied: 1 } })
    expect(l.stats()).toMatchObject({ allowed: 2, denied: 3, byRule: { an: { allowed: 2, denied: 3 } } })
    expect(events).toHaveLength(5)
    expect(events[0]).toMatchObject({ rules: ['an'], allowed: true, source: 'redis', cost: 1 })
  })

  it('analytics: per-rule counts summed over processes', async () => {
    const other = await connect({ url: standalone.url, namespace: conn.keys.namespace })
    try {
      const rule = {
        algorithm: 'token-bucket',
        limit: 3,
        window: '1h',
        name: 'sum',
        analytics: true,
      } as const
      const a = new RateLimiter(conn, rule)
      const b = new RateLimiter(other, rule)
      for (let i = 0; i < 4; i++) await a.consume(`a${i % 2}`, { cost: 2 })
      for (let i = 0; i < 3; i++) await b.consume('b', { cost: 1 })
      await b.close()
      await b.close()
      expect(await a.ruleStats()).toEqual({ sum: { allowed: 5, denied: 2 } })
      await a.close()
    } finally {
      await other.close()
    }
  })

  it('concurrent consumers on one key in one process: exactly limit allowed', async () => {
    const l = new RateLimiter(conn, {
      algorithm: 'token-bucket',
      limit: 25,
      window: '1h',
      blockCache: false,
    })
    const results = await Promise.all(Array.from({ length: 200 }, () => l.consume('race')))
    expect(results.filter((r) => r.allowed)).toHaveLength(25)
  })

  it('a batch of mixed requests (costs, peeks, keys) is decided as if each had been sent alone, in order', async () => {
    const l = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 20,
      window: '1h',
      blockCache: false,
    })
    const calls = Array.from({ length: 30 }, (_, i) =>
      i === 5
        ? l.peek('mixed', { cost: 1 })
        : l.consume(i % 7 === 6 ? 'other' : 'mixed', { cost: 1 + (i % 2) }),
    )
    const results = await Promise.all(calls)
    const used = results
      .map((r, i) => (r.allowed && i !== 5 && r.key === 'mixed' ? 1 + (i % 2) : 0))
      .reduce((a, b) => a + b, 0)
    expect(used).toBe(20)
    expect(results[5]).toMatchObject({ allowed: true, source: 'redis' })
    expect(results.filter((r) => r.key === 'other').every((r) => r.allowed)).toBe(true)
    expect(await l.peek('mixed')).toMatchObject({ allowed: false, remaining: 0 })
  })

  it('setRule swaps the rule live and keeps the usage', async () => {
    const l = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 2, window: '1h', name: 'live' })
    await l.consume('k', { cost: 2 })
    expect((await l.consume('k')).allowed).toBe(false)
    l.setRule({ algorithm: 'fixed-window', limit: 4, window: '1h' })
    await l.reset('k').catch(() => {})
    await l.consume('k', { cost: 2 })
    expect(await l.consume('k')).toMatchObject({ allowed: true, limit: 4, remaining: 1 })
    expect(() => l.setRule({ algorithm: 'fixed-window', limit: -1, window: '1h' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field: 'limit' }),
    )
    expect(l.rule.params.limit).toBe(4)
  })
})

describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('rl-multi') })],
  ['cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rl-multi') })],
  [
    'sentinel',
    () =>
      connect({
        sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
        namespace: uniquePrefix('rl-multi'),
      }),
  ],
] as const)('CombinedLimiter (%s)', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  it('all-or-nothing: a request rejected by one rule consumes from none', async () => {
    const perSecond = new RateLimiter(conn, {
      algorithm: 'gcra',
      limit: 3,
      window: '1h',
      name: 's',
      blockCache: false,
    })
    const perMinute = new RateLimiter(conn, { algorithm: 'sliding-log', limit: 5, window: '1h', name: 'm' })
    const perDay = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 100, window: '1d', name: 'd' })
    const multi = new CombinedLimiter([perSecond, perMinute, perDay])
    const r1 = await multi.consume('u', { cost: 3 })
    expect(r1).toMatchObject({ allowed: true, rule: 's', remaining: 0 })
    const r2 = await multi.consume('u', { cost: 1 })
    expect(r2).toMatchObject({ allowed: false, rule: 's' })
    expect(r2.rules.map((r) => r.allowed)).toEqual([false, true, true])
    // nothing was taken from the minute and day rules by the rejected request
    expect(await perMinute.peek('u')).toMatchObject({ remaining: 2 })
    expect(await perDay.peek('u')).toMatchObject({ remaining: 97 })
  })

  it('concurrent requests on combined limits: allowed equals the tightest limit, no rule over-counts', async () => {
    const a = new RateLimiter(conn, {
      algorithm: 'token-bucket',
      limit: 7,
      window: '1h',
      name: 'a',
      blockCache: false,
    })
    const b = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 20, window: '1d', name: 'b' })
    const multi = new CombinedLimiter([a, b])
    const results = await Promise.all(Array.from({ length: 64 }, () => multi.consume('hot')))
    expect(results.filter((r) => r.allowed)).toHaveLength(7)
    expect(await b.peek('hot')).toMatchObject({ remaining: 13 })
  })

  it('many keys at once (batched per node, per slot on a cluster): each key gets exactly its limit', async () => {
    const l = new RateLimiter(conn, {
      algorithm: 'gcra',
      limit: 3,
      window: '1h',
      name: 'many',
      blockCache: false,
    })
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`)
    const results = await Promise.all(Array.from({ length: 250 }, (_, i) => l.consume(keys[i % 50]!)))
    const allowed = new Map<string, number>()
    for (const r of results) if (r.allowed) allowed.set(r.key, (allowed.get(r.key) ?? 0) + 1)
    expect([...allowed.values()]).toEqual(keys.map(() => 3))
  })

  it('block and reset cover every rule', async () => {
    const a = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 7, window: '1h', name: 'a' })
    const b = new RateLimiter(conn, { algorithm: 'sliding-window', limit: 9, window: '1h', name: 'b' })
    const multi = new CombinedLimiter([a, b])
    await multi.block('x', '10m')
    expect((await a.consume('x')).allowed).toBe(false)
    expect((await b.consume('x')).allowed).toBe(false)
    await multi.reset('x')
    expect((await multi.consume('x')).allowed).toBe(true)
  })

  it('rejects bad combinations', () => {
    const a = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 7, window: '1h', name: 'a' })
    const a2 = new RateLimiter(conn, { algorithm: 'gcra', limit: 7, window: '1h', name: 'a' })
    const other = new RateLimiter(conn, {
      algorithm: 'gcra',
      limit: 7,
      window: '1h',
      name: 'o',
      namespace: 'other',
    })
    expect(() => new CombinedLimiter([])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'limiters' }),
    )
    expect(() => new CombinedLimiter([a, a2])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'limiters' }),
    )
    expect(() => new CombinedLimiter([a, other])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'limiters.1' }),
    )
    expect(() => new CombinedLimiter([{} as never])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    )
  })
})
