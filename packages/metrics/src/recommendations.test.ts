import { describe, expect, it } from 'vitest'
import { type AlertState, type ResolvedAlertRule, step } from './alerts.js'
import type { BigKeysReport } from './big-keys.js'
import { KeySampleCache, recommend } from './recommendations.js'
import type { NodeInsight, ServerInsight } from './server.js'

const MiB = 1024 * 1024
const node = (over: Partial<NodeInsight> = {}): NodeInsight => ({
  address: '10.0.0.1:6379',
  role: 'master',
  ok: true,
  notes: [],
  memory: {
    used: 100 * MiB,
    rss: 110 * MiB,
    peak: 120 * MiB,
    maxmemory: 1024 * MiB,
    policy: 'allkeys-lfu',
    fragmentationRatio: 1.1,
  },
  ...over,
})
const insight = (...nodes: NodeInsight[]): ServerInsight => ({ topology: 'standalone', at: 0, nodes })
const keys = (over: Partial<BigKeysReport> = {}): BigKeysReport => ({
  scanned: 10,
  sampled: 10,
  sampledBytes: 0,
  top: [],
  withoutTtl: { count: 0, bytes: 0, top: [] },
  byPrefix: [],
  queueKeys: 0,
  notes: [],
  ...over,
})
const ids = (i: ServerInsight, k?: BigKeysReport) => recommend(i, k).map((r) => r.id)

describe('recommend', () => {
  it('a healthy cache server gets no advice', () => {
    expect(ids(insight(node()), keys())).toEqual([])
  })

  it('each rule on its own, ordered by severity', () => {
    const m = node().memory!
    expect(ids(insight(node({ memory: { ...m, maxmemory: 0 } })))).toEqual(['no-maxmemory'])
    expect(ids(insight(node({ memory: { ...m, policy: 'noeviction' } })))).toEqual(['cache-eviction-policy'])
    expect(ids(insight(node()), keys({ queueKeys: 3 }))).toEqual(['queue-eviction-policy'])
    expect(ids(insight(node({ memory: { ...m, used: 1000 * MiB } })))).toEqual(['memory-pressure'])
    expect(ids(insight(node({ memory: { ...m, fragmentationRatio: 2 } })))).toEqual(['fragmentation'])
    expect(ids(insight(node({ memory: { ...m, fragmentationRatio: 0.7 } })))).toEqual(['swapping'])
    expect(ids(insight(node({ evictedKeys: 5 })))).toEqual(['evictions'])
    expect(
      recommend(
        insight(node({ evictedKeys: 5, memory: { ...m, policy: 'noeviction' } })),
        keys({ queueKeys: 1 }),
      )[0]!.severity,
    ).toBe('critical')
    expect(ids(insight(node({ keyspaceHits: 500, keyspaceMisses: 1500, hitRatio: 0.25 })))).toEqual([
      'low-hit-ratio',
    ])
    expect(ids(insight(node({ keyspaceHits: 5, keyspaceMisses: 15, hitRatio: 0.25 })))).toEqual([])
    expect(
      ids(
        insight(
          node({ slowlog: [{ id: 1, at: 0, durationMicros: 20_000, command: 'KEYS' }], slowlogLength: 1 }),
        ),
      ),
    ).toEqual(['slow-commands'])
    expect(ids(insight(node({ latency: [{ event: 'fork', at: 0, latestMs: 30, maxMs: 90 }] })))).toEqual([
      'latency-events',
    ])
    expect(ids(insight(node({ rejectedConnections: 2 })))).toEqual(['rejected-connections'])
    expect(ids(insight(node({ notes: ['SLOWLOG: NOPERM'] })))).toEqual(['insight-denied'])
    expect(ids(insight(node({ role: 'replica', replication: { masterLinkStatus: 'down' } })))).toEqual([
      'replica-link-down',
    ])
    const lagging = { address: '10.0.0.2:6379', state: 'online', offset: 0, lagBytes: 5 * MiB, lagSeconds: 1 }
    expect(ids(insight(node({ replication: { replicas: [lagging] } })))).toEqual(['replication-lag'])
    expect(ids(insight(node({ ok: false, error: 'E_UNAVAILABLE' })))).toEqual([])
  })

  it('keys without TTL (outside queues) and big keys from the sample', () => {
    const k = (key: string, bytes: number) => ({ key, bytes, type: 'string', ttlMs: -1, node: 'n' })
    const noTtl = keys({ withoutTtl: { count: 8, bytes: 800, top: [k('app:cache:a', 100)] } })
    expect(ids(insight(node()), noTtl)).toEqual(['keys-without-ttl'])
    const onlyQueues = keys({
      withoutTtl: { count: 8, bytes: 800, top: [k('app:queue:q:meta', 100)] },
      queueKeys: 8,
    })
    expect(ids(insight(node({ memory: { ...node().memory!, policy: 'noeviction' } })), onlyQueues)).toEqual(
      [],
    )
    expect(ids(insight(node()), keys({ top: [k('app:blob', 20 * MiB)] }))).toEqual(['big-keys'])
    expect(
      recommend(insight(node()), keys({ top: [k('app:blob', 2000)] }), { bigKey: 1000 })[0]!.message,
    ).toMatch(/app:blob/)
  })
})

describe('alert state machine (step)', () => {
  const rule = (over: Partial<ResolvedAlertRule> = {}): ResolvedAlertRule => ({
    name: 'r',
    expr: { fn: 'rate', name: 'x_total' },
    op: 'above',
    threshold: 10,
    forMs: 60_000,
    windowMs: 60_000,
    hysteresis: 2,
    severity: 'warning',
    ...over,
  })
  const inactive: AlertState = { state: 'inactive', since: 0, value: null }

  it('pending, firing after for, hysteresis, resolved; no data keeps the state', () => {
    const r = rule()
    const p = step(r, inactive, 11, 1000)
    expect(p).toEqual({ state: 'pending', since: 1000, value: 11 })
    expect(step(r, p, 12, 30_000).state).toBe('pending')
    const f = step(r, p, 12, 61_000)
    expect(f.state).toBe('firing')
    expect(step(r, f, 9, 70_000).state).toBe('firing') // not 2 below the threshold yet
    expect(step(r, f, null, 70_000)).toBe(f)
    expect(step(r, f, 8, 80_000).state).toBe('inactive')
    expect(step(r, p, 5, 20_000).state).toBe('inactive')
    expect(step(rule({ forMs: 0 }), inactive, 11, 5).state).toBe('firing')
    const below = rule({ op: 'below', threshold: 0.8, hysteresis: 0.05, forMs: 0 })
    const fb = step(below, inactive, 0.5, 1)
    expect(fb.state).toBe('firing')
    expect(step(below, fb, 0.82, 2).state).toBe('firing')
    expect(step(below, fb, 0.9, 3).state).toBe('inactive')
  })
})

describe('KeySampleCache (the key sample of recommendations())', () => {
  const report = (sampled: number): BigKeysReport =>
    ({ sampled, sampledBytes: 0, top: [], withoutTtl: 0, queueKeys: 0 }) as unknown as BigKeysReport

  it('reuses a sample for sampleMaxAge, shares it between concurrent calls, samples anew after or on 0', async () => {
    let now = 0
    const taken: number[] = []
    const cache = new KeySampleCache(
      async (sample) => {
        taken.push(sample)
        return report(sample)
      },
      () => now,
    )
    const [a, b] = [cache.get({}), cache.get({})]
    expect(a).toBe(b)
    expect((await a)!.sampled).toBe(2_000)
    now += 299_999
    await cache.get({})
    expect(taken).toEqual([2_000])
    now += 1
    await cache.get({})
    expect(taken).toEqual([2_000, 2_000])
    await cache.get({ sampleMaxAge: 0 })
    await cache.get({ sample: 500 })
    await cache.get({ sample: 500, sampleMaxAge: '1m' })
    expect(taken).toEqual([2_000, 2_000, 2_000, 500])
    expect(cache.get({ sample: 0 })).toBeUndefined()
    expect(taken).toHaveLength(4)
  })

  it('does not keep a failed sample; bad sample or sampleMaxAge is E_INVALID_ARGUMENT naming the field', async () => {
    let fail = true
    const cache = new KeySampleCache(
      async (sample) => {
        if (fail) throw new Error('SCAN refused')
        return report(sample)
      },
      () => 0,
    )
    await expect(cache.get({})).rejects.toThrow('SCAN refused')
    fail = false
    expect((await cache.get({}))!.sampled).toBe(2_000)
    for (const [options, field] of [
      [{ sample: -1 }, 'sample'],
      [{ sample: 1.5 }, 'sample'],
      [{ sampleMaxAge: 'soon' }, 'sampleMaxAge'],
      [{ sampleMaxAge: -5 }, 'sampleMaxAge'],
    ] as const) {
      expect(() => cache.get(options as never)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_ARGUMENT', message: expect.stringContaining(field) }),
      )
    }
  })
})
