import { InvalidArgumentError } from '@cache/client'
import { PKG } from './options.js'

/** Input of `workersNeeded()`. */
export interface CapacityInput {
  /** Jobs arriving per second (λ). */
  arrivalRate: number
  /** Mean run time of a job (ms), 1/μ. */
  serviceTimeMs: number
  /** The mean wait in the queue to stay under (ms). */
  targetWaitMs: number
  /** Jobs one worker runs at once. @default 1 */
  concurrency?: number
}

/** Result of `workersNeeded()`. */
export interface CapacityPlan {
  /** Job slots (workers × concurrency) needed: the smallest c with W_q(c) ≤ target. */
  slots: number
  /** Workers of the given concurrency. */
  workers: number
  /** The mean wait with that many slots (ms). */
  expectedWaitMs: number
  /** Share of time the slots are busy, λ / (c μ). */
  utilisation: number
}

/** Erlang C: the probability that a job waits, with `c` slots and offered load `a` = λ/μ (a < c). */
export function erlangC(c: number, a: number): number {
  // Erlang B by its stable recurrence, then C = B / (1 − ρ(1 − B)).
  let b = 1
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b)
  const rho = a / c
  return b / (1 - rho * (1 - b))
}

/**
 * Capacity planning from arrival and service rates (an M/M/c queue): the mean wait with c slots is
 * W_q = C(c, λ/μ) / (c μ − λ) (Erlang C); the answer is the smallest c with W_q ≤ the target.
 * @example workersNeeded({ arrivalRate: 100, serviceTimeMs: 50, targetWaitMs: 100, concurrency: 4 })
 */
export function workersNeeded(input: CapacityInput): CapacityPlan {
  const { arrivalRate: lambda, serviceTimeMs, targetWaitMs, concurrency = 1 } = input
  for (const [field, v] of Object.entries({ arrivalRate: lambda, serviceTimeMs, targetWaitMs })) {
    if (!Number.isFinite(v) || v < 0)
      throw new InvalidArgumentError(PKG, field, 'must be a finite number ≥ 0')
  }
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new InvalidArgumentError(PKG, 'concurrency', 'must be a positive integer')
  if (lambda === 0 || serviceTimeMs === 0) return { slots: 0, workers: 0, expectedWaitMs: 0, utilisation: 0 }
  const mu = 1000 / serviceTimeMs
  const a = lambda / mu
  let c = Math.max(1, Math.floor(a) + 1)
  for (;;) {
    const waitMs = (erlangC(c, a) / (c * mu - lambda)) * 1000
    if (waitMs <= targetWaitMs || c > 1_000_000) {
      return { slots: c, workers: Math.ceil(c / concurrency), expectedWaitMs: waitMs, utilisation: a / c }
    }
    c++
  }
}
