import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Polls `check` until it returns a truthy value (which is returned) or `timeoutMs` passes. Errors thrown
 * by `check` count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 20_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value) return value
    } catch (err) {
      lastError = err
    }
    await sleep(intervalMs)
  }
  const reason = lastError ? `: ${String(lastError)}` : ''
  throw new Error(`[@cache/tools] timed out after ${timeoutMs}ms waiting for ${what}${reason}`)
}
