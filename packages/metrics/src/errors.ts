import { InvalidArgumentError, InvalidOptionError } from '@cache/client'

/**
 * Error codes @cache/metrics raises: a bad metric name, label or query (E_INVALID_ARGUMENT), a bad option
 * (E_INVALID_OPTION), a call after close (E_CLOSED) and the connection's own codes for queries
 * (E_UNAVAILABLE, E_TIMEOUT). Flushes never throw: failed batches are kept and retried.
 */
export type MetricsErrorCode =
  | 'E_INVALID_ARGUMENT'
  | 'E_INVALID_OPTION'
  | 'E_CLOSED'
  | 'E_UNAVAILABLE'
  | 'E_TIMEOUT'

export { InvalidArgumentError, InvalidOptionError }
