import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CombinedLimiter, RateLimiter } from '../src/index.js'

const { standalone, sentinel, cluster } = inject('redis')

/**
 * The fixed-window layout: one HINCRBY per one-rule consume, the count's field named by its window, a block
 * carried into the count (fixed-window.lua). The controlled clock only moves forward from real time.
 */
describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('rl-fw') })],
  ['cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rl-fw') })],
  [
    'sentinel',
    () =>
      connect({
        sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
        namespace: uniquePrefix('rl-fw'),
      }),
  ],
] as const)('fixed-window counts and blocks (%s)', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  let run = 0
  const limiter = (window: number, extra: Record<string, unknown> = {}) => {
    const W = window
    // the start of a window, a little ahead of real time
    const clock = { now: Math.ceil((Date.now() + 1000) / W) * W }
    const l = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 3,
      window,
      name: `fw${run++}`,
      clock: 'client',
      now: () => clock.now,
      blockCache: false,
      ...extra,
    })
    return { l, clock }
  }
  const allowedOf = async (l: RateLimiter, n: number) => {
    const out = []
    for (let i = 0; i < n; i++) out.push((await l.consume('k')).allowed)
    return out
  }

  it('a block that ends inside the window gives the window its count back', async () => {
    const { l, clock } = limiter(60_000)
    expect(await allowedOf(l, 2)).toEqual([true, true])
    await l.block('k', 1000)
    clock.now += 10
    expect(await l.consume('k')).toMatchObject({
      allowed: false,
      retryAfterMs: 990,
      rules: [{ blocked: true }],
    })
    expect((await l.peek('k')).allowed).toBe(false)
    clock.now += 1000
    // 2 of 3 were used before the block: one more passes
    expect(await l.consume('k')).toMatchObject({ allowed: true, remaining: 0 })
    expect(await l.consume('k')).toMatchObject({ allowed: false, rules: [{ blocked: false }] })
    clock.now += 60_000
    expect(await allowedOf(l, 4)).toEqual([true, true, true, false])
  })

  it('a block longer than a window denies in every window it covers, then the limit is whole again', async () => {
    const { l, clock } = limiter(1000)
    await l.consume('k')
    await l.block('k', 2500)
    for (const step of [300, 1000, 1000]) {
      clock.now += step
      expect(await l.consume('k')).toMatchObject({ allowed: false, rules: [{ blocked: true }] })
    }
    clock.now += 300
    expect(await allowedOf(l, 4)).toEqual([true, true, true, false])
  })

  it('a penalty blocks the key through the one-call path and the combined path alike', async () => {
    const { l, clock } = limiter(60_000, { penalty: 5000 })
    expect(await allowedOf(l, 4)).toEqual([true, true, true, false])
    clock.now += 1000
    expect(await l.consume('k')).toMatchObject({
      allowed: false,
      retryAfterMs: 4000,
      rules: [{ blocked: true }],
    })
    clock.now += 4000
    // the window's count (3) is back after the penalty: denied again, so blocked again
    expect(await l.consume('k')).toMatchObject({ rules: [{ blocked: true }] })
    const other = new RateLimiter(conn, {
      algorithm: 'gcra',
      limit: 100,
      window: '1m',
      name: `g${run++}`,
      clock: 'client',
      now: () => clock.now,
      blockCache: false,
    })
    const both = new CombinedLimiter([l, other])
    clock.now += 100_000
    expect((await both.consume('c')).allowed).toBe(true)
    await both.consume('c')
    await both.consume('c')
    expect(await both.consume('c')).toMatchObject({ allowed: false })
    clock.now += 10
    expect(await both.consume('c')).toMatchObject({ allowed: false, rules: [{ blocked: true }, {}] })
    expect(await l.consume('c')).toMatchObject({ allowed: false, rules: [{ blocked: true }] })
  })

  it('refund during a block gives the unit back for after it', async () => {
    const { l, clock } = limiter(60_000)
    expect(await allowedOf(l, 3)).toEqual([true, true, true])
    await l.block('k', 1000)
    expect(await l.refund('k')).toBe(1)
    expect((await l.consume('k')).allowed).toBe(false)
    clock.now += 1000
    expect(await allowedOf(l, 2)).toEqual([true, false])
  })
})
