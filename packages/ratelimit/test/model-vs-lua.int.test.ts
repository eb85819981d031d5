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
} from '../src/index.js'
import { LocalStore } from '../src/local.js'

const { standalone, cluster } = inject('redis')

/**
 * The same random request sequences run through the Lua scripts (client clock, so time is controlled) and
 * through the pure TypeScript model / the in-memory store; every decision must match exactly.
 * The logical clock is real time plus an offset that only grows, so Redis key expiry (real time) never
 * fires before the logical clock has passed it.
 */
describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('rl-model') })],
  ['cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rl-model') })],
] as const)('Lua against the model (%s)', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  const stepArb = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 3 }))

  it.each(ALGORITHMS)('%s: identical decisions on random sequences', async (algorithm: Algorithm) => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 200, max: 3000 }),
        fc.integer({ min: 3, max: 15 }),
        fc.array(stepArb, { minLength: 5, maxLength: 40 }),
        async (limit, windowMs, burstRaw, steps) => {
          const bucket = algorithm === 'token-bucket' || algorithm === 'gcra'
          const burst = bucket ? burstRaw : undefined
          let offset = 0
          const now = () => Date.now() + offset
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
          let clock = now()
          for (const [dt, cost] of steps) {
            offset += dt
            clock = now()
            const got = await limiter.consume('k', { cost: Math.min(cost, burst ?? limit) })
            const want = check(params, state, Math.min(cost, burst ?? limit), clock)
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

  it('combined rules of different algorithms: Lua and the in-memory store agree, all-or-nothing', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ALGORITHMS),
        fc.constantFrom(...ALGORITHMS),
        fc.array(stepArb, { minLength: 5, maxLength: 40 }),
        async (a1, a2, steps) => {
          let clock = Date.now()
          let offset = 0
          const common = { clock: 'client' as const, now: () => clock, blockCache: false }
          const id = run++
          const l1 = new RateLimiter(conn, {
            algorithm: a1,
            limit: 4,
            window: 500,
            name: `a${id}`,
            ...common,
          })
          const l2 = new RateLimiter(conn, {
            algorithm: a2,
            limit: 9,
            window: 2000,
            name: `b${id}`,
            ...common,
          })
          const both = new CombinedLimiter([l1, l2])
          const local = new LocalStore(100)
          const bound = [l1, l2].map((l) => ({
            name: l.name,
            params: l.rule.params,
            penaltyMs: 0,
            keys: { state: `${l.name}:s`, log: `${l.name}:l`, block: `${l.name}:b` },
          }))
          for (const [dt, cost] of steps) {
            offset += dt
            clock = Date.now() + offset
            const got = await both.consume('k', { cost })
            const want = local.run('c', bound, cost, clock)
            const flat = [got.allowed ? 1 : 0]
            for (const r of got.rules)
              flat.push(r.allowed ? 1 : 0, r.remaining, r.resetAfterMs, r.retryAfterMs, r.blocked ? 1 : 0)
            expect(flat).toEqual([want[0], ...want.slice(2)])
          }
        },
      ),
      { numRuns: 10 },
    )
  })
})
