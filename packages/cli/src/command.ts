import { type Connection, parseDuration } from '@cache/client'
import { UsageError } from './errors.js'
import type { CliIo, Output } from './output.js'

/** A flag definition (node:util parseArgs shape). */
export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
}

/** What a command runs with. */
export interface CommandContext {
  /** The connection (an offline command gets a stand-in that throws when used). */
  conn: Connection
  values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>
  positionals: readonly string[]
  out: Output
  io: CliIo
  /** Aborted on SIGINT: long commands stop between two steps and print where they stopped. */
  signal: AbortSignal
}

/** One `cache <name>` command. */
export interface Command {
  name: string
  /** One line for `cache --help`. */
  summary: string
  /** Arguments and flags, for `cache <name> --help`. */
  usage: string
  flags: Readonly<Record<string, FlagSpec>>
  /** True for a command that needs no server (it is given no connection). */
  offline?: boolean
  /** Resolves to the exit code. */
  run(ctx: CommandContext): Promise<number>
}

/** A whole-number flag with a default and bounds. @throws UsageError naming the flag */
export function intFlag(
  values: CommandContext['values'],
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  const raw = values[name]
  if (raw === undefined) return fallback
  if (typeof raw !== 'string' || !/^\d+$/.test(raw))
    throw new UsageError(`--${name}`, `must be a whole number, got ${JSON.stringify(raw)}`)
  const n = Number(raw)
  if (n < min || n > max) throw new UsageError(`--${name}`, `must be between ${min} and ${max}, got ${n}`)
  return n
}

/** A string flag, or `fallback`. */
export function stringFlag(
  values: CommandContext['values'],
  name: string,
  fallback?: string,
): string | undefined {
  const raw = values[name]
  return typeof raw === 'string' ? raw : fallback
}

/** A window flag: a positive duration that is a multiple of 10 s (the finest @cache/metrics resolution). */
export function windowFlag(values: CommandContext['values'], name: string, fallback: string): number {
  const raw = stringFlag(values, name, fallback)!
  let ms = Number.NaN
  try {
    ms = parseDuration(raw)
  } catch {}
  if (!(ms > 0))
    throw new UsageError(`--${name}`, `must be a duration like 10s or 1m, got ${JSON.stringify(raw)}`)
  if (ms % 10_000 !== 0) throw new UsageError(`--${name}`, 'must be a multiple of 10s')
  return ms
}
