import diagnostics from 'node:diagnostics_channel'
import type { Connection } from '@cache/client'
import { codeOf } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

  it('every binding follows the naming rules; a bad package list is E_INVALID_ARGUMENT', async () => {
    expect(new Set(CHANNEL_BINDINGS.map((b) => b.channel)).size).toBe(CHANNEL_BINDINGS.length)
    for (const b of CHANNEL_BINDINGS) expect(b.channel).toMatch(/^cache:[a-z]+:[a-z-]+$/)
    expect(
      await codeOf(Promise.resolve().then(() => instrument(metrics, { packages: ['nope' as never] }))),
    ).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => instrument(metrics, { packages: 'x' as never })))).toBe(
      'E_INVALID_ARGUMENT',
    )
  })
})
