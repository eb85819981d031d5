import { type Connection, connect } from '@cache/client'
import { type SentinelTopology, startSentinel, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TieredCache } from '../src/index.js'

describe('tracking coherence across a Sentinel failover (own topology)', () => {
  let topo: SentinelTopology
  const conns: Connection[] = []
  let a: TieredCache<string>
  let b: TieredCache<string>

  beforeAll(async () => {
    topo = await startSentinel({ replicas: 1, sentinels: 3 })
    const info = topo.info()
    if (info.kind !== 'sentinel') throw new Error('unreachable')
    for (let i = 0; i < 2; i++) {
      const conn = await connect({
        sentinel: { name: info.name, sentinels: info.sentinels },
        namespace: 'fo',
        commandTimeout: '500ms',
        breaker: { failureThreshold: 3, resetTimeout: '200ms' },
      })
      conn.on('error', () => {})
      conns.push(conn)
    }
    a = new TieredCache<string>(conns[0] as Connection, { namespace: 'c', failSafe: false })
    b = new TieredCache<string>(conns[1] as Connection, { namespace: 'c' })
    await Promise.all([a.ready, b.ready])
  })
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()])
    await Promise.all(conns.map((c) => c.close()))
    await topo?.stop()
  })

  const inL1 = (value: string) =>
    waitFor(`b holds ${value} in L1`, async () => (await b.get('k')) === value && b.cachedLocally('k'), {
      timeoutMs: 20_000,
      intervalMs: 20,
    })

  it('after SENTINEL FAILOVER, writes on the new master still evict the other process', async () => {
    const states: boolean[] = []
    b.on('coherence', (e: { trusted: boolean }) => states.push(e.trusted))
    await a.set('k', 'v1')
    await inL1('v1')
    await topo.failover()
    // Writes reach the new master once the connection has followed it.
    await waitFor(
      'a write succeeds on the new master',
      () =>
        a.set('k', 'v2').then(
          () => true,
          () => false,
        ),
      { timeoutMs: 40_000, intervalMs: 100 },
    )
    await inL1('v2')
    await a.set('k', 'v3')
    await waitFor('eviction after failover', () => !b.cachedLocally('k'), {
      timeoutMs: 10_000,
      intervalMs: 10,
    })
    expect(await b.get('k')).toBe('v3')
    // The demoted master dropped the tracking pair: L1 was distrusted, then trusted on the new master.
    expect(states[0]).toBe(false)
    expect(states.at(-1)).toBe(true)
  })
})
