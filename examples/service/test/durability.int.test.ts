/**
 * On Sentinel the service's job queue acknowledges an add once a replica has it (`jobDurability`, on by
 * default there): with the replica paused, POST /api/jobs/welcome answers a typed 503 E_NOT_REPLICATED with
 * Retry-After instead of a 202 a failover could take back; with the replica back, 202 again.
 */
import { type SentinelTopology, startSentinel } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningService, startService } from '../src/index.js'
import { ApiClient } from '../src/load.js'

let redis: SentinelTopology
let svc: RunningService

beforeAll(async () => {
  redis = await startSentinel()
  const info = redis.info() as { name: string; sentinels: Array<{ host: string; port: number }> }
  svc = await startService({
    redis: { sentinel: { name: info.name, sentinels: info.sentinels } },
    port: 0,
    devCodes: true,
    otpResendInterval: 0,
    paymentsFailureRate: 0,
    workers: false,
  })
}, 180_000)

afterAll(async () => {
  for (const n of redis?.dataNodes ?? []) n.resume()
  await svc?.close()
  await redis?.stop()
}, 60_000)

describe('job durability on Sentinel', () => {
  it('a job a replica does not acknowledge within 1s is a 503 E_NOT_REPLICATED with Retry-After; 202 again once it is back', async () => {
    const api = new ApiClient(svc.url)
    expect((await api.login('t1', 'alice@t1.test')).status).toBe(200)
    expect((await api.call('POST', '/api/jobs/welcome', { email: 'a@example.com' })).status).toBe(202)

    const master = await redis.masterPort()
    const replicas = redis.dataNodes.filter((n) => n.port !== master)
    for (const r of replicas) r.pause()
    try {
      const t0 = performance.now()
      const res = await api.call('POST', '/api/jobs/welcome', { email: 'b@example.com' })
      expect(res.status).toBe(503)
      expect(res.body.error.code).toBe('E_NOT_REPLICATED')
      expect(res.headers.get('retry-after')).toBe('1')
      expect(performance.now() - t0).toBeGreaterThanOrEqual(950)
    } finally {
      for (const r of replicas) r.resume()
    }
    expect((await api.call('POST', '/api/jobs/welcome', { email: 'c@example.com' })).status).toBe(202)
  }, 60_000)
})
