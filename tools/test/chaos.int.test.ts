// The shortened chaos run of `npm test`: on a standalone server of its own (AOF, appendfsync always), the
// example service under simulated users while Redis is killed and restarted, paused (SIGSTOP) past every
// timeout, and the job worker process is SIGKILLed. Every invariant of docs/reliability.md must hold.
// The full run (Sentinel, Cluster, more faults) is `npm run chaos`.
import { describe, expect, it } from 'vitest'
import { runChaos } from '../chaos/runner.js'
import type { FaultResult } from '../chaos/types.js'

describe('chaos (standalone, shortened)', () => {
  it('survives kill + restart, SIGSTOP and a worker SIGKILL with every invariant holding', async () => {
    const results: FaultResult[] = await runChaos({
      topologies: ['standalone'],
      faults: ['redis-kill-restart', 'sigstop', 'worker-sigkill'],
      users: 4,
      warmMs: 1500,
      afterMs: 1000,
    })
    expect(results.map((r) => r.fault)).toEqual(['redis-kill-restart', 'sigstop', 'worker-sigkill'])
    for (const r of results) {
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.value} ${c.detail ?? ''}`)
      expect(failed, `${r.fault}`).toEqual([])
      // The faults really bit: requests ran during them and, for Redis faults, some got the outage answer.
      expect(r.faultRequests, r.fault).toBeGreaterThan(0)
      if (r.fault !== 'worker-sigkill') expect(r.errors.typed503, r.fault).toBeGreaterThan(0)
      expect(r.jobs.acknowledged, r.fault).toBeGreaterThan(0)
      expect(r.sessions.before, r.fault).toBeGreaterThan(0)
    }
    // Cached reads were exercised during the Redis faults (L1 / grace answered them), and the LLM limiters
    // denied some requests (the over-admission check had something to count).
    expect(results.filter((r) => r.fault !== 'worker-sigkill').every((r) => r.reads.warm > 0)).toBe(true)
    expect(results.reduce((n, r) => n + (r.statuses['429'] ?? 0), 0)).toBeGreaterThan(0)
    expect(results.reduce((n, r) => n + r.limits.admitted, 0)).toBeGreaterThan(0)
  }, 240_000)
})
