import { monitorEventLoopDelay } from 'node:perf_hooks'

/**
 * A load signal for the `adaptive` option from the event-loop delay: 0 while the p99 delay is at or
 * under `idleMs`, rising linearly to 1 at `overloadMs`. `stop()` ends the measurement.
 * @example new RateLimiter(conn, { ..., adaptive: { load: eventLoopLoad().load } })
 */
export function eventLoopLoad({ idleMs = 20, overloadMs = 200, resolutionMs = 10 } = {}): {
  load: () => number
  stop: () => void
} {
  const h = monitorEventLoopDelay({ resolution: resolutionMs })
  h.enable()
  let last = 0
  let lastAt = 0
  return {
    load: () => {
      const now = Date.now()
      if (now - lastAt >= 1000) {
        const p99 = h.percentile(99) / 1e6
        h.reset()
        lastAt = now
        last = Math.min(1, Math.max(0, (p99 - idleMs) / Math.max(1, overloadMs - idleMs)))
      }
      return last
    },
    stop: () => h.disable(),
  }
}
