import { type Duration, InvalidOptionError, parseOptions, zDuration } from '@cache/client'
import { checkKey, MAX_TTL_MS, type SetOptions } from '@cache/core'
import { DEFAULT_WARM_CONCURRENCY, PKG } from './defaults.js'
import { check, problem, type TieredState, ttlOf } from './state.js'
import type { WarmLoader, WarmOptions } from './types.js'

/** Warming: preload keys now (`warm`) or on a schedule (`warmEvery`). */

/** The result of one warm() run. */
export interface WarmResult {
  done: number
  failed: number
  errors: Array<{ key: string; error: unknown }>
}

/** Preloads keys with up to `concurrency` loaders at once; `set` stores one value. */
export async function warm<T>(
  st: TieredState,
  loaders: ReadonlyArray<WarmLoader<T>>,
  options: WarmOptions,
  set: (key: string, value: T, options: SetOptions) => Promise<void>,
): Promise<WarmResult> {
  check(st, 'warm')
  if (!Array.isArray(loaders))
    throw new InvalidOptionError(PKG, 'loaders', 'must be an array of { key, load }')
  loaders.forEach((l, i) => {
    checkKey(l?.key, `loaders.${i}.key`)
    if (typeof l.load !== 'function')
      throw new InvalidOptionError(PKG, `loaders.${i}.load`, 'must be a function')
  })
  const concurrency = options.concurrency ?? DEFAULT_WARM_CONCURRENCY
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError(PKG, 'concurrency', `must be a positive integer, got ${String(concurrency)}`)
  }
  const setOptions: SetOptions = options.ttl === undefined ? {} : { ttl: ttlOf(st, options) }
  let next = 0
  let done = 0
  let failed = 0
  const errors: Array<{ key: string; error: unknown }> = []
  const worker = async () => {
    while (next < loaders.length) {
      const l = loaders[next++] as WarmLoader<T>
      try {
        const value = await l.load()
        st.s.factoryCalls++
        await set(l.key, value, setOptions)
      } catch (error) {
        failed++
        errors.push({ key: l.key, error })
      }
      done++
      options.onProgress?.({ done, total: loaders.length, failed, key: l.key })
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, loaders.length) }, worker))
  return { done, failed, errors }
}

/** Loaders of warmEvery: a list, or a function giving one per run. */
export type WarmSource<T> =
  | ReadonlyArray<WarmLoader<T>>
  | (() => ReadonlyArray<WarmLoader<T>> | Promise<ReadonlyArray<WarmLoader<T>>>)

/** Runs `run(loaders)` now and every `interval` until stopped; runs never overlap. */
export function warmEvery<T>(
  st: TieredState,
  loaders: WarmSource<T>,
  interval: Duration,
  options: WarmOptions & { onRun?: (result: { done: number; failed: number }) => void },
  runWarm: (list: ReadonlyArray<WarmLoader<T>>) => Promise<WarmResult>,
): { stop(): void; readonly runs: number } {
  check(st, 'warmEvery')
  const ms = parseOptions(PKG, zDuration({ min: 10, max: MAX_TTL_MS }), interval, 'interval')
  let running = false
  let runs = 0
  const run = async () => {
    if (running || st.closed) return
    running = true
    try {
      const list = typeof loaders === 'function' ? await loaders() : loaders
      const result = await runWarm(list)
      runs++
      options.onRun?.(result)
    } catch (err) {
      problem(st, err)
    } finally {
      running = false
    }
  }
  const timer = setInterval(run, ms)
  timer.unref()
  st.timers.add(timer)
  void run()
  return {
    stop: () => {
      clearInterval(timer)
      st.timers.delete(timer)
    },
    get runs() {
      return runs
    },
  }
}
