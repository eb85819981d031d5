import { TimeoutError } from './errors.js'
import { TAG } from './pkg.js'

/**
 * Settles like `promise`, or rejects with a `TimeoutError` (E_TIMEOUT, `timeoutMs` set) when it has not
 * settled within `ms`. The promise itself is not cancelled (pass it an AbortSignal for that); a late
 * rejection is ignored, never unhandled. `what` names the operation in the message:
 * `[@cache/client] connect: no answer within 500ms`.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new TimeoutError(`${TAG} ${what}: no answer within ${ms}ms`, ms)),
      ms,
    )
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

/**
 * Resolves after `ms`. With a signal, rejects with the signal's reason as soon as it aborts (at once when
 * it already has), and the timer is cleared.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Input of `backoff()`. */
export interface BackoffInput {
  /** 0 for the first retry. */
  attempt: number
  /** The delay of the first retry (ms). */
  base: number
  /** The cap of the exponential growth (ms). */
  max: number
  /**
   * Spread as a fraction of the delay, 0..1: the result is uniform in `delay × (1 ± jitter)`. 0 gives the
   * exact exponential delay, 1 gives "full jitter" (0..2 × delay). @default 0
   */
  jitter?: number
  /** Source of randomness in [0, 1) (tests). @default Math.random */
  random?: () => number
}

/**
 * The one retry-delay formula of the family: exponential (`base × 2^attempt`, capped at `max`) with a
 * symmetric jitter, never below 1ms. Used by reconnects, lease polls and lock retries alike.
 */
export function backoff({ attempt, base, max, jitter = 0, random = Math.random }: BackoffInput): number {
  const delay = Math.min(max, base * 2 ** Math.min(Math.max(0, attempt), 30))
  const spread = delay * Math.min(1, Math.max(0, jitter))
  return Math.max(1, Math.round(delay - spread + random() * 2 * spread))
}
