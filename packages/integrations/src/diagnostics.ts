import { channel } from 'node:diagnostics_channel'

/** One response-cache decision. */
export interface ResponseEvent {
  /** The cache's namespace. */
  namespace: string
  outcome: 'HIT' | 'STALE' | 'MISS' | 'BYPASS'
  /** Why a response was not stored (`no-store`, `set-cookie`, …) or why the cache was bypassed (`method`, `error`). */
  reason?: string
}

/** `cache:integrations:response`: every response-cache decision. */
export const responseChannel = channel('cache:integrations:response')

/** A circuit breaker changed state (in this process's view). */
export interface BreakerEvent {
  name: string
  from: 'closed' | 'open' | 'half-open'
  to: 'closed' | 'open' | 'half-open'
}

/** `cache:integrations:breaker`: circuit breaker state changes. */
export const breakerStateChannel = channel('cache:integrations:breaker')
