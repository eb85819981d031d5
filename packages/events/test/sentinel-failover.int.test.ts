import { type Connection, connect } from '@cache/client'
import { type SentinelTopology, startSentinel } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventStream, PubSub } from '../src/index.js'
import { until } from './helpers.js'

/** Retries an operation until the new master serves it. */
async function eventually(what: string, fn: () => Promise<unknown>): Promise<void> {
  await until(
    what,
    async () => {
      try {
        await fn()
        return true
      } catch {
        return false
      }
    },
    20_000,
  )
}

describe('Sentinel failover', () => {
  let topology: SentinelTopology
  let conn: Connection
  beforeAll(async () => {
    // One sentinel is enough for a forced SENTINEL FAILOVER, and starts faster.
    topology = await startSentinel({ replicas: 1, sentinels: 1 })
    conn = await connect({
      sentinel: { name: topology.name, sentinels: topology.sentinels.map((s) => `127.0.0.1:${s.port}`) },
      namespace: 'sentinel-failover',
      commandTimeout: 500,
      reconnect: { initialDelay: 20, maxDelay: 200 },
      breaker: { failureThreshold: 3, resetTimeout: 100 },
    })
  })
  afterAll(async () => {
    await conn?.close()
    await topology?.stop()
  })

  it('a consumer and a subscription follow the promoted replica', async () => {
    const stream = new EventStream(conn, 'jobs')
    const seen: unknown[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 100, claimIdleMs: 1000 }, (e) => void seen.push(e))
    consumer.on('error', () => {})
    const bus = new PubSub(conn)
    const heard: unknown[] = []
    await bus.subscribe('after', (m) => void heard.push(m))
    await stream.append('before')
    await until('before failover', () => seen.length === 1)

    await topology.failover()
    await eventually('append after failover', () => stream.append('after'))
    await until('consumed after failover', () => seen.includes('after'), 20_000)
    await eventually('publish after failover', async () => {
      await bus.publish('after', 'x')
      if (heard.length === 0) throw new Error('not yet')
    })
    await consumer.close()
    await bus.close()
    expect(seen.filter((e) => e === 'before')).toHaveLength(1)
  })
})
