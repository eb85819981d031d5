import { type Duration, InvalidOptionError, parseDuration, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import * as D from './defaults.js'

const PKG = '@cache/metrics'

/** Options of `new Metrics(conn, options)`. */
export interface MetricsOptions {
  /** Key namespace under the connection's namespace. @default 'metrics' */
  namespace?: string
  /**
   * Bucket width -> retention. Every flush writes the finest resolution and rolls the same increments into
   * each coarser one (downsampling on flush); each width must be a multiple of the finest.
   * @default { '10s': '1d', '1m': '7d', '1h': '90d' }
   */
  resolutions?: Record<string, Duration>
  /** How often the in-process aggregate is flushed to Redis. @default '5s' */
  flushInterval?: Duration
  /** This process's identity (flush de-duplication, gauges per process). @default host:pid:random */
  id?: string
  /** Label sets per metric; beyond, new ones are dropped and counted. @default 1000 */
  maxSeries?: number
  /** Failed flush batches kept per metric for retry; beyond, the oldest is dropped (and counted). @default 60 */
  maxPendingBatches?: number
  /** The clock (ms since the epoch), injectable for tests. @default Date.now */
  clock?: () => number
}

/** One resolution, resolved. */
export interface Resolution {
  widthMs: number
  retentionMs: number
}

/** Options after validation and defaults. */
export interface ResolvedMetricsOptions {
  namespace: string
  resolutions: readonly Resolution[]
  flushIntervalMs: number
  id: string
  maxSeries: number
  maxPendingBatches: number
  clock: () => number
}

const schema = z
  .object({
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9._\-@/=+,;!$&()]+(:[A-Za-z0-9._\-@/=+,;!$&()]+)*$/, 'must be a key namespace')
      .default(D.DEFAULT_NAMESPACE),
    resolutions: z.record(z.string(), zDuration({ min: 1 })).optional(),
    flushInterval: zDuration({ min: 10 }).default(D.DEFAULT_FLUSH_INTERVAL_MS),
    id: z.string().min(1).max(200).optional(),
    maxSeries: z.number().int().min(1).max(1_000_000).default(D.DEFAULT_MAX_SERIES),
    maxPendingBatches: z.number().int().min(0).max(100_000).default(D.DEFAULT_MAX_PENDING_BATCHES),
    clock: z.custom<() => number>((v) => typeof v === 'function', 'must be a function').optional(),
  })
  .strict()

/** Validates and defaults the options of `new Metrics()`. */
export function resolveOptions(input: MetricsOptions | undefined, defaultId: string): ResolvedMetricsOptions {
  const o = parseOptions(PKG, schema, input)
  const raw = o.resolutions ?? D.DEFAULT_RESOLUTIONS
  const resolutions: Resolution[] = []
  for (const [width, retention] of Object.entries(raw)) {
    let widthMs: number
    try {
      widthMs = parseDuration(width as Duration)
    } catch {
      throw new InvalidOptionError(PKG, 'resolutions', `key "${width}" is not a duration`)
    }
    const retentionMs = parseDuration(retention as Duration)
    if (!(widthMs >= 1000) || widthMs % 1000 !== 0) {
      throw new InvalidOptionError(PKG, 'resolutions', `width "${width}" must be whole seconds, at least 1s`)
    }
    if (!(retentionMs >= widthMs)) {
      throw new InvalidOptionError(PKG, 'resolutions', `retention of "${width}" must be at least its width`)
    }
    resolutions.push({ widthMs, retentionMs })
  }
  if (resolutions.length === 0)
    throw new InvalidOptionError(PKG, 'resolutions', 'must list at least one width')
  resolutions.sort((a, b) => a.widthMs - b.widthMs)
  const finest = resolutions[0]!.widthMs
  for (const r of resolutions) {
    if (r.widthMs % finest !== 0) {
      throw new InvalidOptionError(
        PKG,
        'resolutions',
        `width ${r.widthMs}ms is not a multiple of ${finest}ms`,
      )
    }
  }
  if (new Set(resolutions.map((r) => r.widthMs)).size !== resolutions.length) {
    throw new InvalidOptionError(PKG, 'resolutions', 'lists one width twice')
  }
  const flushIntervalMs = o.flushInterval as number
  if (!(flushIntervalMs >= 10)) throw new InvalidOptionError(PKG, 'flushInterval', 'must be at least 10ms')
  return Object.freeze({
    namespace: o.namespace,
    resolutions: Object.freeze(resolutions),
    flushIntervalMs,
    id: o.id ?? defaultId,
    maxSeries: o.maxSeries,
    maxPendingBatches: o.maxPendingBatches,
    clock: o.clock ?? Date.now,
  })
}
