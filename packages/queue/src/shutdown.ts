/** Anything with an async close (queues, workers). */
export interface Closable {
  close(): Promise<unknown>
}

/**
 * Closes `closables` (in order) on the first SIGTERM or SIGINT, then sets `process.exitCode` (0, or 1 when
 * a close failed) so the process exits once nothing else keeps it alive. Returns a function that removes
 * the handlers.
 * @example closeOnSignal([worker, emails, conn])
 */
export function closeOnSignal(
  closables: readonly Closable[],
  { signals = ['SIGTERM', 'SIGINT'] as readonly NodeJS.Signals[] } = {},
): () => void {
  let started = false
  const onSignal = () => {
    if (started) return
    started = true
    remove()
    void (async () => {
      let code = 0
      for (const c of closables) {
        try {
          await c.close()
        } catch {
          code = 1
        }
      }
      process.exitCode = code
    })()
  }
  const remove = () => {
    for (const s of signals) process.off(s, onSignal)
  }
  for (const s of signals) process.once(s, onSignal)
  return remove
}
