import { CacheError } from '@cache/client'

/** Codes @cache/integrations adds to the family (it also throws E_INVALID_OPTION, E_INVALID_ARGUMENT, E_CLOSED and the connection's codes). */
export type IntegrationsErrorCode = 'E_CIRCUIT_OPEN'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<IntegrationsErrorCode, true> {}
}

/** A call was refused because the circuit breaker is open (or half-open with every probe taken). */
export class CircuitOpenError extends CacheError {
  /** The breaker's name. */
  readonly breaker: string
  /** Milliseconds until the breaker lets a probe through (0 when half-open). */
  readonly retryAfterMs: number
  constructor(breaker: string, state: 'open' | 'half-open', retryAfterMs: number, cause?: unknown) {
    super('E_CIRCUIT_OPEN', `[@cache/integrations] circuit "${breaker}" is ${state}; call refused`, {
      details: { breaker, state, retryAfterMs },
      ...(cause === undefined ? {} : { cause }),
    })
    this.breaker = breaker
    this.retryAfterMs = retryAfterMs
  }
}
