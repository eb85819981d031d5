import { type Duration, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import { PKG } from './defaults.js'

/** Options of `new CircuitBreaker(conn, name, options)`. */
export interface CircuitBreakerOptions {
  /** Share of failed calls in the window (0–1) that opens the breaker. @default 0.5 */
  failureRate?: number
  /** Calls the window must hold before the rate is judged. @default 10 */
  minimumCalls?: number
  /** The sliding window the rate is measured over. @default '10s' */
  window?: Duration
  /** Time buckets of the window (its resolution). @default 10 */
  buckets?: number
  /** How long the breaker stays open before it lets probes through. @default '30s' */
  openFor?: Duration
  /** Calls let through while half-open, in all processes together; all must succeed to close. @default 1 */
  halfOpenProbes?: number
  /** A half-open breaker whose probes have not all reported by then opens again. @default '30s' */
  probeTimeout?: Duration
  /** Each call fails with E_TIMEOUT (counted as a failure) after this long; `false` for no limit. @default false */
  callTimeout?: Duration | false
  /** Which errors count as failures (others are passed through and counted as successes). @default every error */
  isFailure?: (error: unknown) => boolean
  /** Key namespace under the connection's namespace. @default 'cb' */
  namespace?: string
}

const schema = z
  .object({
    failureRate: z.number().gt(0).max(1).default(0.5),
    minimumCalls: z.number().int().min(1).max(1_000_000).default(10),
    window: zDuration({ min: 100, max: 86_400_000 }).default(10_000),
    buckets: z.number().int().min(1).max(600).default(10),
    openFor: zDuration({ min: 10, max: 86_400_000 }).default(30_000),
    halfOpenProbes: z.number().int().min(1).max(1000).default(1),
    probeTimeout: zDuration({ min: 10, max: 86_400_000 }).default(30_000),
    callTimeout: z.union([z.literal(false), zDuration({ min: 1, max: 86_400_000 })]).default(false),
    isFailure: z
      .custom<(error: unknown) => boolean>((v) => typeof v === 'function', 'must be a function')
      .optional(),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)*$/, "must be ':'-separated parts of letters, digits and ._-")
      .max(128)
      .default('cb'),
  })
  .strict()

/** The resolved options. */
export type ResolvedBreakerOptions = Readonly<z.output<typeof schema>>

/** A breaker name: part of its key and of its events. */
export const zBreakerName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1–64 letters, digits and ._-')

/** Validates and defaults the options once. */
export function resolveBreakerOptions(options: CircuitBreakerOptions | undefined): ResolvedBreakerOptions {
  return parseOptions(PKG, schema, options ?? {})
}
