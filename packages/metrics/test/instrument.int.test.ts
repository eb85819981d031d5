import diagnostics from 'node:diagnostics_channel'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { SessionManager } from '@cache/session'
import { TieredCache } from '@cache/tiered'
import { codeOf, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CHANNEL_BINDINGS, instrument, Metrics } from '../src/index.js'
import { sharedConnection } from './helpers.js'

describe('instrument()', () => {
  let conn: Connection
  let metrics: Metrics
  const from = Date.now() - 60_000
  const q = (name: string, fn: 'increase' | 'count', labels?: Record<string, string>) =>
    metrics
      .query({ name, labels, from, to: Date.now() + 60_000, step: '1h', fn })
      .then((r) => r.points.reduce((a, p) => a + (p.value ?? 0), 0))

  beforeAll(async () => {
    conn = await sharedConnection('standalone')
    metrics = new Metrics(conn, { flushInterval: '1h' })
  })
  afterAll(async () => {
    await metrics.close()
    await conn.close()
  })

  it('records the client commands of a real connection, with bounded labels only', async () => {
    const stop = instrument(metrics, { packages: ['client'] })
    for (let i = 0; i < 5; i++) await conn.commands.set(conn.keys.key(`user-secret-${i}`), 'v')
    await codeOf(conn.send(['NOSUCHCOMMAND']))
    stop()
    stop()
    await conn.commands.get(conn.keys.key('after-stop'))
    await metrics.flush()
    expect(await q('cache_redis_command_duration_seconds', 'count', { command: 'SET', outcome: 'ok' })).toBe(
      5,
    )
    expect(await q('cache_redis_command_duration_seconds', 'count', { command: 'GET' })).toBe(0)
    expect(await q('cache_redis_command_duration_seconds', 'count', { command: 'NOSUCHCOMMAND' })).toBe(1)
    // No key ever reaches a label: the series stored are command/topology/outcome triples.
    const total = await conn.send<string[]>(
      ['HKEYS', metrics.keys.tagged('cache_redis_command_duration_seconds', 'total')],
      {
        key: metrics.keys.tagged('cache_redis_command_duration_seconds', 'total'),
      },
    )
    expect(total.join()).not.toContain('user-secret')
  })

  it("'all' subscribes by documented names, tolerates foreign payloads, and maps unbounded values to 'other'", async () => {
    const stop = instrument(metrics)
    diagnostics
      .channel('cache:ratelimit:decision')
      .publish({ rules: ['login'], allowed: false, source: 'redis', cost: 1 })
    diagnostics
      .channel('cache:ratelimit:decision')
      .publish({ rules: ['login'], allowed: true, source: 'redis', cost: 1 })
    diagnostics.channel('cache:session:revoked').publish({ tenant: 't', handle: 'h', reason: 'logout' })
    diagnostics.channel('cache:queue:completed').publish({ queue: 'emails', jobId: '42' })
    diagnostics
      .channel('cache:core:invalidate')
      .publish({ namespace: 'products', kind: 'tags', target: ['a'] })
    diagnostics.channel('cache:core:get').publish({ namespace: 'x'.repeat(200), tier: 'l1', outcome: 'hit' })
    diagnostics.channel('cache:locks:lost').publish(null)
    diagnostics.channel('cache:client:command').publish({ command: 'GET', ok: true, durationMs: Number.NaN })
    stop()
    await metrics.flush()
    expect(await q('cache_ratelimit_decisions_total', 'increase', { rule: 'login', outcome: 'denied' })).toBe(
      1,
    )
    expect(await q('cache_session_events_total', 'increase', { event: 'revoked', reason: 'logout' })).toBe(1)
    expect(await q('cache_queue_jobs_total', 'increase', { queue: 'emails', event: 'completed' })).toBe(1)
    expect(await q('cache_invalidations_total', 'increase', { namespace: 'products' })).toBe(1)
    expect(await q('cache_requests_total', 'increase', { namespace: 'other', outcome: 'hit' })).toBe(1)
    expect(await q('cache_lock_events_total', 'increase')).toBe(0)
  })

  it('a TieredCache read of L2 is counted once (tier l2), a plain RedisCache read once (tier redis)', async () => {
    const namespace = uniquePrefix('tc')
    const plainNs = uniquePrefix('rc')
    const stop = instrument(metrics, { packages: ['core', 'tiered'] })
    const writer = new TieredCache<string>(conn, { namespace, coherence: 'none' })
    const reader = new TieredCache<string>(conn, { namespace, coherence: 'none' })
    const plain = new RedisCache<string>(conn, { namespace: plainNs })
    try {
      await writer.set('a', 'A')
      // A cold L1: one L1 miss, then one L2 hit; the L2 RedisCache must not report it again.
      expect(await reader.get('a')).toBe('A')
      expect(await reader.get('missing')).toBeUndefined()
      await plain.set('p', 'P')
      expect(await plain.get('p')).toBe('P')
      expect(await plain.mget(['p', 'q'])).toEqual(['P', undefined])
    } finally {
      stop()
      await Promise.all([writer.close(), reader.close(), plain.close()])
    }
    await metrics.flush()
    const reads = (ns: string, tier: string, outcome: string) =>
      q('cache_requests_total', 'increase', { namespace: ns, tier, outcome })
    expect(await reads(namespace, 'l1', 'miss')).toBe(2)
    expect(await reads(namespace, 'l2', 'hit')).toBe(1)
    expect(await reads(namespace, 'l2', 'miss')).toBe(1)
    expect(await q('cache_requests_total', 'increase', { namespace, tier: 'redis' })).toBe(0)
    expect(await q('cache_requests_total', 'increase', { namespace })).toBe(4)
    expect(await reads(plainNs, 'redis', 'hit')).toBe(2)
    expect(await reads(plainNs, 'redis', 'miss')).toBe(1)
  })

  it('counts every L1 hit exactly through its bound handle, also those after a stop and a new instrument()', async () => {
    const namespace = uniquePrefix('l1')
    const cache = new TieredCache<number>(conn, { namespace, coherence: 'none' })
    try {
      await cache.set('a', 1)
      await cache.set('b', 2)
      let stop = instrument(metrics, { packages: ['tiered'] })
      for (let i = 0; i < 1_000; i++) await cache.get(i % 3 ? 'a' : 'b')
      stop()
      await cache.get('a')
      stop = instrument(metrics, { packages: ['tiered'] })
      for (let i = 0; i < 500; i++) await cache.get('b')
      stop()
    } finally {
      await cache.close()
    }
    await metrics.flush()
    expect(await q('cache_requests_total', 'increase', { namespace, tier: 'l1', outcome: 'hit' })).toBe(1_500)
  })

  it('a repeated frozen read message counts on its handle; a reused mutable one by its fields; non-objects not at all', async () => {
    const own = new Metrics(conn, { namespace: uniquePrefix('same'), flushInterval: '1h' })
    const stop = instrument(own, { packages: ['core'] })
    const channel = diagnostics.channel('cache:core:get')
    const frozen = Object.freeze({ namespace: 'f', tier: 'redis', outcome: 'hit' })
    const mutable = { namespace: 'm', tier: 'redis', outcome: 'hit' }
    for (let i = 0; i < 10; i++) channel.publish(frozen)
    channel.publish(mutable)
    channel.publish(mutable)
    // After a mutable message, the remembered one must not match a missing message.
    for (let i = 0; i < 3; i++) channel.publish(undefined)
    mutable.outcome = 'miss'
    for (let i = 0; i < 3; i++) channel.publish(mutable)
    channel.publish(frozen)
    stop()
    await own.flush()
    const [snap] = await own.snapshot({ names: ['cache_requests_total'] })
    const value = (namespace: string, outcome: string) =>
      snap!.series.find((x) => x.labels.namespace === namespace && x.labels.outcome === outcome)?.value
    expect([value('f', 'hit'), value('m', 'hit'), value('m', 'miss')]).toEqual([11, 2, 3])
    await own.close()
  })

  it('past 4096 combinations a read takes the plain path, still counted exactly', async () => {
    const own = new Metrics(conn, { namespace: uniquePrefix('memo'), flushInterval: '1h', maxSeries: 10_000 })
    const stop = instrument(own, { packages: ['core'] })
    const channel = diagnostics.channel('cache:core:get')
    for (let i = 0; i < 4_100; i++) channel.publish({ namespace: `ns-${i}`, tier: 'redis', outcome: 'hit' })
    for (let i = 4_095; i < 4_100; i++)
      channel.publish({ namespace: `ns-${i}`, tier: 'redis', outcome: 'hit' })
    stop()
    await own.flush()
    const [snap] = await own.snapshot({ names: ['cache_requests_total'] })
    expect(snap!.series).toHaveLength(4_100)
    expect(snap!.series.reduce((a, x) => a + x.value, 0)).toBe(4_105)
    expect(snap!.series.find((x) => x.labels.namespace === 'ns-4099')!.value).toBe(2)
    await own.close()
  })

  it('counts the periodic session-index sweeps and the entries they remove (cache:session:sweep)', async () => {
    const stop = instrument(metrics, { packages: ['session'] })
    const sessions = new SessionManager(conn, {
      namespace: uniquePrefix('sweep'),
      idleTimeout: 200,
      absoluteTimeout: '1h',
      sweepInterval: 150,
    })
    const removed = (index: string) => q('cache_session_sweep_removed_total', 'increase', { index })
    try {
      await sessions.create({ tenant: 't1', userId: 'u1' })
      await sessions.create({ tenant: 't1', userId: 'u1' })
      await sessions.create({ tenant: 't2', userId: 'u2' })
      await waitFor(
        'the sweeps removed the three expired sessions from the indexes',
        async () => {
          await metrics.flush()
          return (await removed('user')) === 3 && (await removed('live')) === 3
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      )
    } finally {
      await sessions.close()
    }
    expect(await q('cache_session_sweeps_total', 'increase', { outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(await q('cache_session_sweeps_total', 'increase', { outcome: 'error' })).toBe(0)
    // A sweep that fails (its connection is gone) is counted as an error and removes nothing.
    const { standalone } = inject('redis')
    const own = await connect({ url: standalone.url, namespace: uniquePrefix('sweep-err') })
    const broken = new SessionManager(own, { sweepInterval: 100 })
    await own.close()
    try {
      await waitFor(
        'a failed sweep was counted',
        async () => {
          await metrics.flush()
          return (await q('cache_session_sweeps_total', 'increase', { outcome: 'error' })) >= 1
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      )
    } finally {
      stop()
      await broken.close()
    }
    expect(await removed('user')).toBe(3)
  })

  it('every binding follows the naming rules; a bad package list is E_INVALID_ARGUMENT', async () => {
    const identity = (b: (typeof CHANNEL_BINDINGS)[number]) =>
      `${b.channel} ${b.metric} ${JSON.stringify(b.map({}))}`
    expect(new Set(CHANNEL_BINDINGS.map(identity)).size).toBe(CHANNEL_BINDINGS.length)
    for (const b of CHANNEL_BINDINGS) expect(b.channel).toMatch(/^cache:[a-z]+:[a-z-]+$/)
    expect(
      await codeOf(Promise.resolve().then(() => instrument(metrics, { packages: ['nope' as never] }))),
    ).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => instrument(metrics, { packages: 'x' as never })))).toBe(
      'E_INVALID_ARGUMENT',
    )
  })
})
