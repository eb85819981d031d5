import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ConcurrencyLimiter } from '../src/index.js'

const { standalone, cluster } = inject('redis')

describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('rl-cc') })],
  ['cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rl-cc') })],
] as const)('createConcurrencyLimiter (%s)', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  it('grants exactly `limit` slots to concurrent acquirers; release frees one', async () => {
    const inflight = new ConcurrencyLimiter(conn, { limit: 3 })
    const leases = await Promise.all(Array.from({ length: 40 }, () => inflight.acquire('k')))
    const held = leases.filter((l) => l.allowed)
    expect(held).toHaveLength(3)
    const refused = leases.find((l) => !l.allowed)!
    expect(refused.retryAfterMs).toBeGreaterThan(0)
    expect(await refused.release()).toBe(false)
    expect(await inflight.count('k')).toBe(3)
    expect(await held[0]!.release()).toBe(true)
    expect(await held[0]!.release()).toBe(true) // idempotent: same answer, released once
    expect(await inflight.count('k')).toBe(2)
    expect((await inflight.acquire('k')).allowed).toBe(true)
  })

  it('a crashed holder loses its slot when the lease expires; extend keeps it', async () => {
    let now = Date.now()
    const inflight = new ConcurrencyLimiter(conn, {
      limit: 1,
      lease: 1000,
      clock: 'client',
      now: () => now,
    })
    const kept = await inflight.acquire('a')
    expect(kept.allowed).toBe(true)
    now += 900
    expect(await kept.extend(1000)).toBe(true)
    now += 900
    expect((await inflight.acquire('a')).allowed).toBe(false)
    now += 200 // past the extended lease: the holder is presumed dead
    const next = await inflight.acquire('a')
    expect(next.allowed).toBe(true)
    expect(await kept.release()).toBe(false)
    expect(await kept.extend()).toBe(false)
  })

  it('run() releases after success and failure; throws E_RATE_LIMITED when full', async () => {
    const inflight = new ConcurrencyLimiter(conn, { limit: 1 })
    expect(await inflight.run('r', async () => 42)).toBe(42)
    await expect(
      inflight.run('r', async () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    const lease = await inflight.acquire('r')
    await expect(inflight.run('r', () => 1)).rejects.toMatchObject({ code: 'E_RATE_LIMITED', key: 'r' })
    await lease.release()
    expect(await inflight.count('r')).toBe(0)
  })

  it('rejects bad options and keys', async () => {
    expect(() => new ConcurrencyLimiter(conn, { limit: 0 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field: 'limit' }),
    )
    expect(() => new ConcurrencyLimiter(conn, { limit: 1, lease: 'x' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field: 'lease' }),
    )
    const inflight = new ConcurrencyLimiter(conn, { limit: 1 })
    await expect(inflight.acquire('')).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', field: 'key' })
    const lease = await inflight.acquire('x')
    await expect(lease.extend('never')).rejects.toMatchObject({ code: 'E_INVALID_OPTION', field: 'duration' })
    await expect(lease.extend(-5)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', field: 'duration' })
  })
})
