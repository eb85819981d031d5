/**
 * A fake, flaky payments provider in this process: each charge takes 5-30 ms and fails with probability
 * `failureRate` (changeable at run time). The service only calls it through the shared CircuitBreaker.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** A provider-side failure (a 502 to the API caller). */
export class PaymentFailedError extends Error {
  readonly code = 'E_PAYMENT_FAILED'
}

/** The fake provider. */
export class PaymentsProvider {
  calls = 0
  failures = 0
  constructor(public failureRate: number) {}

  /** Charges `amount` cents; resolves to a payment id or rejects with PaymentFailedError. */
  async charge(amount: number): Promise<string> {
    this.calls++
    await sleep(5 + Math.floor(Math.random() * 25))
    if (Math.random() < this.failureRate) {
      this.failures++
      throw new PaymentFailedError(`payments provider: declined ${amount} (simulated outage)`)
    }
    return `pay_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  }
}
