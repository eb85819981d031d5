import os from 'node:os'

/** Bytes of memory available to this process: free RAM, bounded by a cgroup limit when there is one. */
export function availableMemory(): number {
  const proc = process as unknown as { availableMemory?: () => number; constrainedMemory?: () => number }
  if (typeof proc.availableMemory === 'function') {
    const available = proc.availableMemory()
    if (available > 0) return available
  }
  let free = os.freemem()
  const limit = typeof proc.constrainedMemory === 'function' ? proc.constrainedMemory() : 0
  if (limit > 0 && limit < Number.MAX_SAFE_INTEGER) {
    free = Math.min(free, Math.max(0, limit - process.memoryUsage.rss()))
  }
  // Some sandboxes report nothing free: fall back to total memory rather than a zero budget.
  return free > 0 ? free : os.totalmem()
}
