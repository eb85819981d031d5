/** One edge of the wait-for view: `waiter` waits for `resource`, which `holder` holds. */
export interface WaitEdge {
  /** The waiting process (LockManager `id`). */
  waiter: string
  resource: string
  /** The holding process, or undefined when the lock is free (the waiter is about to get it). */
  holder: string | undefined
  /** How long the waiter has been waiting (local clock of the reader). */
  waitingMs: number
}

/**
 * Finds the cycles of a wait-for graph (process → process it waits for): each is a deadlock that only a
 * wait timeout will break. Each cycle is reported once, starting at its smallest id.
 */
export function findDeadlocks(edges: readonly WaitEdge[]): string[][] {
  const graph = new Map<string, Set<string>>()
  for (const e of edges) {
    if (e.holder === undefined || e.holder === e.waiter) continue
    const set = graph.get(e.waiter) ?? new Set<string>()
    graph.set(e.waiter, set)
    set.add(e.holder)
  }
  const cycles = new Map<string, string[]>()
  const path: string[] = []
  const onPath = new Set<string>()
  const done = new Set<string>()
  const visit = (node: string) => {
    if (onPath.has(node)) {
      const cycle = path.slice(path.indexOf(node))
      const start = cycle.indexOf([...cycle].sort()[0]!)
      const canonical = [...cycle.slice(start), ...cycle.slice(0, start)]
      cycles.set(canonical.join('\u0000'), canonical)
      return
    }
    if (done.has(node)) return
    onPath.add(node)
    path.push(node)
    for (const next of graph.get(node) ?? []) visit(next)
    path.pop()
    onPath.delete(node)
    done.add(node)
  }
  for (const node of [...graph.keys()].sort()) visit(node)
  return [...cycles.values()]
}
