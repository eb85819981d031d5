import { InvalidArgumentError } from '@cache/client'

const PKG = '@cache/metrics'
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
/** Prometheus wants base units: seconds and bytes, not their multiples. */
const NON_BASE_UNIT =
  /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|us|ns|kilobytes|megabytes|gigabytes|kb|mb|gb|kib|mib|gib)(_total)?$/

/** The kinds of metric this package stores. */
export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'uniques'

/** Checks a metric name and its label names against the Prometheus naming rules; throws E_INVALID_ARGUMENT. */
export function validateNames(kind: MetricKind, name: unknown, labels: readonly unknown[]): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new InvalidArgumentError(PKG, 'name', `must match ${METRIC_NAME}, got ${JSON.stringify(name)}`)
  }
  if (name.startsWith('__'))
    throw new InvalidArgumentError(PKG, 'name', 'must not start with "__" (reserved)')
  if (NON_BASE_UNIT.test(name)) {
    throw new InvalidArgumentError(PKG, 'name', `must use base units (seconds, bytes), got "${name}"`)
  }
  if (kind === 'counter' && !name.endsWith('_total')) {
    throw new InvalidArgumentError(PKG, 'name', `of a counter must end in "_total", got "${name}"`)
  }
  if (kind !== 'counter' && name.endsWith('_total')) {
    throw new InvalidArgumentError(PKG, 'name', `ends in "_total", which is for counters only: "${name}"`)
  }
  const seen = new Set<string>()
  for (const label of labels) {
    if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) {
      throw new InvalidArgumentError(
        PKG,
        'labels',
        `must be names matching ${LABEL_NAME} not starting with "__", got ${JSON.stringify(label)}`,
      )
    }
    if (label === 'le' || label === 'quantile') {
      throw new InvalidArgumentError(PKG, 'labels', `"${label}" is reserved by Prometheus`)
    }
    if (seen.has(label)) throw new InvalidArgumentError(PKG, 'labels', `"${label}" is listed twice`)
    seen.add(label)
  }
}
