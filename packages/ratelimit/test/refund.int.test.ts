import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  ALGORITHMS,
  type Algorithm,
  CombinedLimiter,
  check,
  RateLimiter,
  type RuleState,
  refund,
} from '../src/index.js'

const { standalone, sentinel, cluster } = inject('redis')

const bucket = (a: Algorithm) => a === 'token-bucket' || a === 'gcra'

describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('rl-refund') })],
  ['cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rl-refund') })],
  [
    'sentinel',
    () =>
      connect({
        sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
        namespace: uniquePrefix('rl-refund'),
      }),
  ],
] as const)('refund (%s)', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  it.each(ALGORITHMS)(
    '%s: a refunded unit can be consumed again; never beyond the limit',
    async (algorithm) => {
      const l = new RateLimiter(conn, { algorithm, limit: 3, window: '1h', name: `r-${algorithm}` })
      for (let i = 0; i < 3; i++) expect((await l.consume('k')).allowed).toBe(true)
      const denied = await l.consume('k')
      expect(denied.allowed).toBe(false)
      // the denial is in this process's block cache: a refund must forget it
      expect(await l.refund('k')).toBe(1)
      const again = await l.consume('k')
      expect(again).toMatchObject({ allowed: true, remaining: 0, source: 'redis' })
      expect((await l.consume('k')).allowed).toBe(false)
      // refunds never give back more than was used
      for (let i = 0; i < 5; i++) await l.refund('k')
      const peek = await l.peek('k')
      expect(peek.remaining).toBe(3)
      let allowed = 0
      for (let i = 0; i < 5; i++) if ((await l.consume('k')).allowed) allowed++
      expect(allowed).toBe(3)
    },
  )

  it.each(ALGORITHMS)('%s: a key never seen has nothing to give back', async (algorithm) => {
    const l = new RateLimiter(conn, { algorithm, limit: 3, window: '1h', name: `n-${algorithm}` })
    expect(await l.refund('nobody')).toBe(0)
    expect((await l.peek('nobody')).remaining).toBe(3)
  })

  it('cost: a refund of several units', async () => {
    const l = new RateLimiter(conn, { algorithm: 'token-bucket', limit: 10, window: '1h', name: 'cost' })
    await l.consume('k', { cost: 8 })
    expect((await l.peek('k')).remaining).toBe(2)
    await l.refund('k', { cost: 5 })
    expect((await l.peek('k')).remaining).toBe(7)
  })

  it('a refund does not lift a block', async () => {
    const l = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 3, window: '1h', name: 'blk' })
    await l.consume('k')
    await l.block('k', '10m')
    await l.refund('k')
    expect(await l.consume('k')).toMatchObject({
      allowed: false,
      rules: [expect.objectContaining({ blocked: true })],
    })
  })

  it('combined limits: every rule gives the unit back', async () => {
    const a = new RateLimiter(conn, { algorithm: 'sliding-log', limit: 2, window: '1h', name: 'a' })
    const b = new RateLimiter(conn, { algorithm: 'gcra', limit: 5, window: '1h', name: 'b' })
    const both = new CombinedLimiter([a, b])
    await both.consume('u')
    await both.consume('u')
    expect((await both.consume('u')).allowed).toBe(false)
    expect(await both.refund('u')).toBe(2)
    expect(await both.peek('u')).toMatchObject({ allowed: true })
    expect((await b.peek('u')).remaining).toBe(4)
  })

  it('rejects bad arguments with typed errors naming them', async () => {
    const l = new RateLimiter(conn, { algorithm: 'gcra', limit: 3, window: '1h', name: 'bad' })
    await expect(l.refund('')).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', field: 'key' })
    for (const cost of [0, 1.5, -2])
      await expect(l.refund('k', { cost })).rejects.toMatchObject({
        code: 'E_INVALID_ARGUMENT',
        field: 'cost',
      })
  })
})

describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('rl-refund-model') })],
  [
    'cluster',
    () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rl-refund-model') }),
  ],
] as const)('refund: Lua against the model (%s)', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  // [ms to advance, cost, refund instead of consume]
  const stepArb = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 3 }), fc.boolean())

  it.each(ALGORITHMS)('%s: identical decisions on random consume/refund sequences', async (algorithm) => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 200, max: 3000 }),
        fc.integer({ min: 3, max: 15 }),
        fc.array(stepArb, { minLength: 5, maxLength: 40 }),
        async (limit, windowMs, burstRaw, steps) => {
          const burst = bucket(algorithm) ? burstRaw : undefined
          let offset = 0
          let clock = Date.now()
          const limiter = new RateLimiter(conn, {
            algorithm,
            limit,
            window: windowMs,
            ...(burst ? { burst } : {}),
            name: `p${run++}`,
            clock: 'client',
            now: () => clock,
            blockCache: false,
          })
          const params = limiter.rule.params
          let state: RuleState | undefined
          for (const [dt, rawCost, isRefund] of steps) {
            offset += dt
            clock = Date.now() + offset
            const cost = Math.min(rawCost, burst ?? limit)
            if (isRefund) {
              const want = refund(params, state, cost, clock)
              if (want.next) state = want.next
              expect(await limiter.refund('k', { cost })).toBe(want.next ? 1 : 0)
              continue
            }
            const got = await limiter.consume('k', { cost })
            const want = check(params, state, cost, clock)
            if (want.next) state = want.next
            expect({
              allowed: got.allowed,
              remaining: got.remaining,
              resetAfterMs: got.resetAfterMs,
              retryAfterMs: got.retryAfterMs,
            }).toEqual({
              allowed: want.allowed,
              remaining: want.remaining,
              resetAfterMs: want.resetAfterMs,
              retryAfterMs: want.retryAfterMs,
            })
          }
        },
      ),
      { numRuns: 12 },
    )
  })
})
