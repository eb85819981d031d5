import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { erlangC, workersNeeded } from './capacity.js'

describe('workersNeeded', () => {
  it('matches a textbook M/M/c case', () => {
    // λ = 10/s, service 0.5s (a = 5): C(6, 5) ≈ 0.5875, W_q = C / (cμ − λ) = 0.5875 / 2 ≈ 294ms
    expect(erlangC(6, 5)).toBeCloseTo(0.5875, 3)
    const plan = workersNeeded({ arrivalRate: 10, serviceTimeMs: 500, targetWaitMs: 300 })
    expect(plan.slots).toBe(6)
    expect(plan.expectedWaitMs).toBeCloseTo(293.7, 0)
    expect(plan.utilisation).toBeCloseTo(5 / 6, 5)
  })

  it('rounds slots up to workers of the given concurrency, and answers zero traffic with zero', () => {
    expect(
      workersNeeded({ arrivalRate: 10, serviceTimeMs: 500, targetWaitMs: 300, concurrency: 4 }).workers,
    ).toBe(2)
    expect(workersNeeded({ arrivalRate: 0, serviceTimeMs: 500, targetWaitMs: 1 })).toMatchObject({
      slots: 0,
      workers: 0,
    })
  })

  it('refuses bad input naming the field', () => {
    expect(() => workersNeeded({ arrivalRate: -1, serviceTimeMs: 1, targetWaitMs: 1 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'arrivalRate' }),
    )
    expect(() =>
      workersNeeded({ arrivalRate: 1, serviceTimeMs: 1, targetWaitMs: 1, concurrency: 0 }),
    ).toThrow(expect.objectContaining({ field: 'concurrency' }))
  })

  it('the plan is minimal and always stable (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 500, noNaN: true }),
        fc.double({ min: 1, max: 2000, noNaN: true }),
        fc.double({ min: 1, max: 10_000, noNaN: true }),
        (lambda, serviceTimeMs, targetWaitMs) => {
          const p = workersNeeded({ arrivalRate: lambda, serviceTimeMs, targetWaitMs })
          const a = (lambda * serviceTimeMs) / 1000
          expect(p.slots).toBeGreaterThan(a) // utilisation < 1
          expect(p.expectedWaitMs).toBeLessThanOrEqual(targetWaitMs)
          if (p.slots - 1 > a) {
            const mu = 1000 / serviceTimeMs
            const fewer = (erlangC(p.slots - 1, a) / ((p.slots - 1) * mu - lambda)) * 1000
            expect(fewer).toBeGreaterThan(targetWaitMs)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})
