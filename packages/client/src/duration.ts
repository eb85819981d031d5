import { z } from 'zod'
import { InvalidOptionError } from './errors.js'
import { PKG } from './pkg.js'

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'5s'`, `'10m'`, `'2h'`, `'30d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}` | (string & {})

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/

/** Milliseconds in a duration, or a reason it is not one. */
function toMs(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `must be a finite number of milliseconds, got ${value}`
    if (value < 0) return `must not be negative, got ${value}`
    return value
  }
  if (typeof value === 'string') {
    const m = PATTERN.exec(value)
    if (!m)
      return `must be milliseconds or a string like '500ms', '5s', '10m', '2h', '30d', got ${JSON.stringify(value)}`
    return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number))
  }
  return `must be a number of milliseconds or a duration string, got ${typeof value}`
}

/** Formats milliseconds the short way (`1500` → `'1.5s'`), for messages. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size) return `${+(ms / size).toFixed(3)}${unit}`
  }
  return `${ms}ms`
}

/**
 * Parses a duration into milliseconds and checks it is within `[min, max]`.
 * @throws InvalidOptionError (E_INVALID_OPTION) naming `field`.
 * @example parseDuration('5m', { field: 'ttl' }) // 300000
 */
export function parseDuration(
  value: Duration,
  { field = 'duration', min = 0, max = Number.MAX_SAFE_INTEGER, pkg = PKG } = {},
): number {
  const ms = toMs(value)
  if (typeof ms === 'string') throw new InvalidOptionError(pkg, field, ms)
  if (ms < min || ms > max) {
    throw new InvalidOptionError(
      pkg,
      field,
      `must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${JSON.stringify(value)}`,
    )
  }
  return ms
}

/** A zod schema for a duration option that outputs milliseconds; for options schemas of every package. */
export function zDuration({ min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = toMs(value)
    if (typeof ms === 'string') {
      ctx.addIssue({ code: 'custom', message: ms })
      return z.NEVER
    }
    if (ms < min || ms > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${JSON.stringify(value)}`,
      })
      return z.NEVER
    }
    return ms
  })
}
