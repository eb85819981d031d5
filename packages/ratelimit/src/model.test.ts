import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ALGORITHMS, type Algorithm, capacityOf, check, type RuleParams, type RuleState } from './model.js'

const params = (algorithm: Algorithm, limit: number, windowMs: number, burst = limit): RuleParams => ({
  algorithm,
  limit,
  windowMs,
  burst: algorithm === 'token-bucket' || algorithm === 'gcra' ? burst : limit,
})

/** Runs a sequence of (time step, cost) through the model, returning the decisions. */
function simulate(rule: RuleParams, steps: Array<[dt: number, cost: number]>, start = 1_700_000_000_000) {
  let state: RuleState | undefined
  let expiresAt = 0
  let now = start
  return steps.map(([dt, cost]) => {
    now += dt
    const r = check(rule, now < expiresAt ? state : undefined, cost, now)
    if (r.next) {
      state = r.next
      expiresAt = now + r.ttlMs
    }
    return { now, cost, ...r }
  })
}

const stepsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 4 })), {
  minLength: 1,
  maxLength: 120,
})

describe('model', () => {
  it('fixed window never allows more than limit units per aligned window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 20 }),
        fc.integer({ min: 50, max: 2000 }),
        stepsArb,
        (limit, w, steps) => {
          const used = new Map<number, number>()
          for (const d of simulate(params('fixed-window', limit, w), steps)) {
            if (!d.allowed) continue
            const win = d.now - (d.now % w)
            used.set(win, (used.get(win) ?? 0) + d.cost)
            expect(used.get(win)).toBeLessThanOrEqual(limit)
          }
        },
      ),
    )
  })

  it('sliding log never allows more than limit units in any window of W ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 20 }),
        fc.integer({ min: 50, max: 2000 }),
        stepsArb,
        (limit, w, steps) => {
          const allowed = simulate(params('sliding-log', limit, w), steps).filter((d) => d.allowed)
          for (const d of allowed) {
            const inWindow = allowed.filter((x) => x.now > d.now - w && x.now <= d.now)
            expect(inWindow.reduce((s, x) => s + x.cost, 0)).toBeLessThanOrEqual(limit)
          }
        },
      ),
    )
  })

  it('token bucket and GCRA allow at most burst + elapsed·limit/window units', () => {
    for (const algorithm of ['token-bucket', 'gcra'] as const) {
      fc.assert(
        fc.property(
          fc.integer({ min: 4, max: 20 }),
          fc.integer({ min: 50, max: 2000 }),
          fc.integer({ min: 4, max: 30 }),
          stepsArb,
          (limit, w, burst, steps) => {
            const ds = simulate(params(algorithm, limit, w, burst), steps)
            const t0 = ds[0]!.now
            let total = 0
            for (const d of ds) {
              if (d.allowed) total += d.cost
              expect(total).toBeLessThanOrEqual(burst + ((d.now - t0) * limit) / w + 1e-9)
            }
          },
        ),
      )
    }
  })

  it('every algorithm: a denied request consumes nothing, and retrying after retryAfterMs succeeds', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALGORITHMS),
        fc.integer({ min: 4, max: 20 }),
        fc.integer({ min: 50, max: 2000 }),
        stepsArb,
        (algorithm, limit, w, steps) => {
          const rule = params(algorithm, limit, w)
          let state: RuleState | undefined
          let now = 1_700_000_000_000
          for (const [dt, cost] of steps) {
            now += dt
            const r = check(rule, state, cost, now)
            if (r.allowed) {
              state = r.next
              expect(r.retryAfterMs).toBe(0)
              expect(r.remaining).toBeGreaterThanOrEqual(0)
              continue
            }
            expect(r.next).toBeUndefined()
            expect(r.retryAfterMs).toBeGreaterThan(0)
            // sliding-window's retry estimate is exact too, given no other traffic
            const later = check(rule, state, cost, now + r.retryAfterMs)
            expect(later.allowed).toBe(true)
            if (r.retryAfterMs > 1)
              expect(check(rule, state, cost, now + r.retryAfterMs - 1).allowed).toBe(false)
          }
        },
      ),
    )
  })

  it('sliding window counter stays within limit + the previous window share (documented bound)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 20 }),
        fc.integer({ min: 100, max: 2000 }),
        stepsArb,
        (limit, w, steps) => {
          const allowed = simulate(params('sliding-window', limit, w), steps).filter((d) => d.allowed)
          for (const d of allowed) {
            const inWindow = allowed.filter((x) => x.now > d.now - w && x.now <= d.now)
            // the approximation can let through up to 2× limit in a window of W ms in the worst case
            expect(inWindow.reduce((s, x) => s + x.cost, 0)).toBeLessThanOrEqual(2 * limit)
          }
          // and never more than limit in one aligned window
          const used = new Map<number, number>()
          for (const d of allowed) {
            const win = d.now - (d.now % w)
            used.set(win, (used.get(win) ?? 0) + d.cost)
            expect(used.get(win)).toBeLessThanOrEqual(limit)
          }
        },
      ),
    )
  })

  it('starts full: exactly `capacity` unit requests pass at one instant', () => {
    for (const algorithm of ALGORITHMS) {
      const rule = params(algorithm, 7, 60_000, 7)
      const ds = simulate(
        rule,
        Array.from({ length: 10 }, () => [0, 1] as [number, number]),
      )
      expect(ds.filter((d) => d.allowed)).toHaveLength(capacityOf(rule))
      expect(ds.map((d) => d.remaining).slice(0, 7)).toEqual([6, 5, 4, 3, 2, 1, 0])
    }
  })

  it('GCRA and token bucket stay exact with windows that do not divide by the limit', () => {
    for (const algorithm of ['token-bucket', 'gcra'] as const) {
      const rule = params(algorithm, 3, 1000, 3)
      // 3 at once, then one every 333.33 ms: the 4th is allowed at +334 ms, not before
      const ds = simulate(rule, [
        [0, 1],
        [0, 1],
        [0, 1],
        [333, 1],
        [1, 1],
      ])
      expect(ds.map((d) => d.allowed)).toEqual([true, true, true, false, true])
    }
  })
})
