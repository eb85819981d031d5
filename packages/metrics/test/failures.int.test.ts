import { type Connection, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../src/index.js'

describe('Redis killed and paused during flushes', () => {
  let server: StandaloneTopology
  let conn: Connection
  let metrics: Metrics
  const t0 = Date.now()
  const total = async () => {
    const r = await metrics.query({
      name: 'jobs_done_total',
      from: t0 - 60_000,
      to: Date.now() + 60_000,
      step: '1h',
      fn: 'increase',
    })
    return r.points.reduce((a, p) => a + (p.value ?? 0), 0)
  }

  beforeAll(async () => {
    // Persistence on every write, so what was applied before the kill survives the restart.
    server = await startStandalone({ config: { appendonly: 'yes', appendfsync: 'always' } })
    conn = await connect({
      url: server.url,
      namespace: 'fail',
      commandTimeout: '300ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
      breaker: { failureThreshold: 2, resetTimeout: '200ms' },
    })
    conn.on('error', () => {})
    metrics = new Metrics(conn, { flushInterval: '1h', maxPendingBatches: 3 })
  })
  afterAll(async () => {
    await metrics.close()
    await conn.close()
    await server.stop()
  })

  it('keeps failed batches, retries them in order after a restart, counts each increment once', async () => {
    const jobs = metrics.counter('jobs_done_total')
    jobs.inc(5)
    expect((await metrics.flush()).applied).toBe(1)
    await server.master.kill()
    jobs.inc(7)
    const down = await metrics.flush()
    expect(down).toMatchObject({ applied: 0, pending: 1 })
    jobs.inc(11)
    expect((await metrics.flush()).pending).toBe(2)
    await server.master.restart()
    await waitFor('flush succeeds', async () => (await metrics.flush()).pending === 0, { timeoutMs: 15_000 })
    expect(await total()).toBe(23)
  })

  it('a batch whose reply was lost (server paused past the timeout) is not applied twice on retry', async () => {
    const jobs = metrics.counter('jobs_done_total')
    const before = await total()
    jobs.inc(100)
    await server.master.pause()
    const r = await metrics.flush()
    expect(r.pending).toBe(1)
    await server.master.resume()
    // The server now runs the command it had buffered; the retry carries the same sequence number.
    await waitFor('retry done', async () => (await metrics.flush()).pending === 0, { timeoutMs: 15_000 })
    expect(await total()).toBe(before + 100)
  })

  it('bounds what it keeps: beyond maxPendingBatches the oldest batch is dropped and counted', async () => {
    const jobs = metrics.counter('jobs_done_total')
    const before = await total()
    await server.master.kill()
    for (let i = 1; i <= 5; i++) {
      jobs.inc(i)
      await metrics.flush()
    }
    const r = await metrics.flush()
    expect(r.pending).toBe(3)
    expect(r.lostBatches).toBe(2)
    await server.master.restart()
    await waitFor('flush succeeds', async () => (await metrics.flush()).pending === 0, { timeoutMs: 15_000 })
    // Batches 1 and 2 were dropped; 3 + 4 + 5 arrive exactly once.
    expect(await total()).toBe(before + 12)
  })
})
