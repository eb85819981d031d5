/**
 * The benchmark toolkit: `measure` runs an async operation at a given concurrency for a fixed time and
 * reports throughput and latency percentiles; suites compare @cache against peers measured in the same
 * run and state each target as a ratio, so results do not depend on the machine's absolute speed.
 */
import { cpus, totalmem } from 'node:os'

/** One measured operation. */
export interface Measurement {
  name: string
  concurrency: number
  ops: number
  opsPerSec: number
  p50Us: number
  p99Us: number
  meanUs: number
  extra?: Record<string, number | string>
}

/** A target expressed as a ratio of two measurements (higher is better unless `lowerIsBetter`). */
export interface RatioResult {
  name: string
  value: number
  target: number
  lowerIsBetter?: boolean
  pass: boolean
  note?: string
}

/** What a suite returns; the runner adds machine facts and writes it to results/<suite>.json. */
export interface SuiteResult {
  suite: string
  description: string
  settings?: Record<string, string | number | boolean>
  measurements: Measurement[]
  ratios: RatioResult[]
}

/** Servers the runner started for the suites (through the test harness). */
export interface BenchContext {
  standaloneUrl: string
  clusterNodes: () => Promise<Array<{ host: string; port: number }>>
  /** Shortens every measurement (CI smoke runs): multiply durations by this factor. */
  scale: number
}

/** A benchmark suite: a name and a function that measures. */
export interface Suite {
  name: string
  run(ctx: BenchContext): Promise<SuiteResult>
}

/** Declares a suite (the default export of benchmarks/suites/*.bench.ts). */
export function defineSuite(name: string, run: (ctx: BenchContext) => Promise<SuiteResult>): Suite {
  return { name, run }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

/**
 * Runs `op` from `concurrency` parallel loops for `durationMs` after `warmupMs`, recording every
 * operation's latency. `op` gets the loop index and the iteration number.
 */
export async function measure(
  name: string,
  op: (worker: number, i: number) => Promise<unknown> | unknown,
  {
    concurrency = 1,
    durationMs = 2000,
    warmupMs = 300,
    scale = 1,
  }: { concurrency?: number; durationMs?: number; warmupMs?: number; scale?: number } = {},
): Promise<Measurement> {
  const run = async (ms: number, record: boolean) => {
    const latencies: number[] = []
    const end = performance.now() + ms
    let ops = 0
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        let i = 0
        while (performance.now() < end) {
          const t0 = performance.now()
          await op(worker, i++)
          if (record) latencies.push((performance.now() - t0) * 1000)
          ops++
        }
      }),
    )
    return { latencies, ops }
  }
  await run(Math.max(50, warmupMs * scale), false)
  const started = performance.now()
  const { latencies, ops } = await run(Math.max(100, durationMs * scale), true)
  const elapsed = (performance.now() - started) / 1000
  const sorted = Float64Array.from(latencies).sort()
  const mean = latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length)
  return {
    name,
    concurrency,
    ops,
    opsPerSec: Math.round(ops / elapsed),
    p50Us: Math.round(percentile(sorted, 50) * 10) / 10,
    p99Us: Math.round(percentile(sorted, 99) * 10) / 10,
    meanUs: Math.round(mean * 10) / 10,
  }
}

/**
 * Measures several contenders in alternating rounds (A B C C B A …) and merges the rounds, so a burst of
 * machine noise hits every contender alike.
 */
export async function measureInterleaved(
  contenders: Array<{ name: string; op: (worker: number, i: number) => Promise<unknown> | unknown }>,
  options: { concurrency?: number; durationMs?: number; rounds?: number; scale?: number } = {},
): Promise<Measurement[]> {
  const rounds = options.rounds ?? 3
  const per = (options.durationMs ?? 3000) / rounds
  const merged = new Map<string, Measurement[]>()
  for (let r = 0; r < rounds; r++) {
    // Odd rounds run the contenders in reverse: in a fixed order the one right after a heavy contender
    // pays its leftover GC and socket work (~20% measured on the locks suite).
    const order = r % 2 === 0 ? contenders : [...contenders].reverse()
    for (const c of order) {
      // Round 0 warms each contender up for 1 s: with 300 ms the first contender's first round still ran
      // on unoptimised code on a loaded machine (the queue suite's add c=1 read 4,335 adds/s in round 0,
      // 9,164-10,046 after), and one slow round of 8 moves an averaged ratio by 6%.
      const m = await measure(c.name, c.op, { ...options, durationMs: per, warmupMs: r === 0 ? 1000 : 50 })
      merged.set(c.name, [...(merged.get(c.name) ?? []), m])
    }
  }
  return contenders.map((c) => {
    const ms = merged.get(c.name) ?? []
    const ops = ms.reduce((s, m) => s + m.ops, 0)
    const sortedBy = (k: 'p50Us' | 'p99Us') =>
      ms.map((m) => m[k]).sort((a, b) => a - b)[Math.floor(ms.length / 2)] ?? 0
    return {
      name: c.name,
      concurrency: options.concurrency ?? 1,
      ops,
      opsPerSec: Math.round(ms.reduce((s, m) => s + m.opsPerSec, 0) / Math.max(1, ms.length)),
      p50Us: sortedBy('p50Us'),
      p99Us: sortedBy('p99Us'),
      meanUs: Math.round((ms.reduce((s, m) => s + m.meanUs * m.ops, 0) / Math.max(1, ops)) * 10) / 10,
    }
  })
}

/** A ratio target: `a / b` against `target` (or `a / b <= target` when lower is better). */
export function ratio(
  name: string,
  a: number,
  b: number,
  target: number,
  lowerIsBetter = false,
  note?: string,
): RatioResult {
  const value = b === 0 ? 0 : Math.round((a / b) * 1000) / 1000
  const out: RatioResult = { name, value, target, pass: lowerIsBetter ? value <= target : value >= target }
  if (lowerIsBetter) out.lowerIsBetter = true
  if (note) out.note = note
  return out
}

/** Facts about the machine, stored with every result. */
export function machineInfo(redisVersion: string): Record<string, string | number> {
  const cpu = cpus()
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    redis: redisVersion,
    date: new Date().toISOString(),
  }
}
