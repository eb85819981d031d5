/**
 * The fault catalogue. A fault is injected, held, then healed; the outage the checkers look at runs from
 * the start of `inject` to the end of `heal` ("Redis back"): recovery is measured from there.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisNode } from '../src/harness/index.js'
import { waitFor } from '../src/harness/wait.js'
import { type ChaosTopology, primary, type TopologyKind, waitTopologyHealthy } from './topology.js'
import type { WorkerProcess } from './worker.js'

export interface FaultContext {
  topology: ChaosTopology
  worker: WorkerProcess
  /** How long a fault that is "held" lasts: longer than every client timeout. */
  holdMs: number
  log: (line: string) => void
}

export interface Fault {
  name: string
  /** What it does, for the report. */
  description: string
  topologies: TopologyKind[]
  /** Whether Redis itself is faulted (the worker fault leaves it alone). */
  redis: boolean
  /** Injects the fault and holds it; resolves when it is time to heal. */
  inject(ctx: FaultContext): Promise<void>
  /** Ends the fault; resolves when Redis (or the worker) is back. */
  heal(ctx: FaultContext): Promise<void>
}

/** State a fault keeps between inject and heal. */
const victims = new WeakMap<FaultContext, RedisNode>()

/** The current master, remembered as the fault's victim. */
async function target(ctx: FaultContext): Promise<RedisNode> {
  const node = await primary(ctx.topology)
  victims.set(ctx, node)
  return node
}

function victim(ctx: FaultContext): RedisNode {
  const node = victims.get(ctx)
  if (!node) throw new Error('[@cache/tools] chaos: heal before inject')
  return node
}

/** Waits until the deployment has promoted someone other than `old`. */
async function promotedAway(ctx: FaultContext, old: RedisNode): Promise<void> {
  const t = ctx.topology
  await waitFor(
    `failover away from ${old.label}`,
    async () => {
      if (t.kind === 'sentinel') return (await t.topology.masterPort()) !== old.port
      if (t.kind === 'cluster') return !(await t.topology.masters()).includes(old)
      return true
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
}

export const FAULTS: Fault[] = [
  {
    name: 'redis-kill-restart',
    description:
      'SIGKILL the master, keep it down for the hold time, restart it on the same port and dir (standalone: AOF replayed)',
    topologies: ['standalone'],
    redis: true,
    async inject(ctx) {
      await (await target(ctx)).kill()
      await sleep(ctx.holdMs)
    },
    async heal(ctx) {
      await victim(ctx).restart()
      await waitTopologyHealthy(ctx.topology)
    },
  },
  {
    name: 'master-kill',
    description:
      'SIGKILL the master; Sentinel / Cluster promotes its replica; the old node restarts and rejoins as a replica',
    topologies: ['sentinel', 'cluster'],
    redis: true,
    async inject(ctx) {
      const node = await target(ctx)
      await node.kill()
      await promotedAway(ctx, node)
    },
    async heal(ctx) {
      await waitTopologyHealthy(ctx.topology)
      await victim(ctx).restart()
      await waitTopologyHealthy(ctx.topology)
    },
  },
  {
    name: 'sigstop',
    description:
      'SIGSTOP the master for the hold time (longer than every timeout: sockets open, no answers), then SIGCONT; on Sentinel / Cluster the replica is promoted meanwhile',
    topologies: ['standalone', 'sentinel', 'cluster'],
    redis: true,
    async inject(ctx) {
      ;(await target(ctx)).pause()
      await sleep(ctx.holdMs)
    },
    async heal(ctx) {
      victim(ctx).resume()
      await waitTopologyHealthy(ctx.topology)
    },
  },
  {
    name: 'failover',
    description:
      'A coordinated failover: SENTINEL FAILOVER, or CLUSTER FAILOVER on the replica of the busiest master',
    topologies: ['sentinel', 'cluster'],
    redis: true,
    async inject(ctx) {
      const t = ctx.topology
      if (t.kind === 'sentinel') await t.topology.failover(60_000)
      else if (t.kind === 'cluster') await t.topology.failover(await target(ctx), 60_000)
    },
    async heal(ctx) {
      await waitTopologyHealthy(ctx.topology)
    },
  },
  {
    name: 'worker-sigkill',
    description:
      'SIGKILL the worker process (examples/service/src/worker.ts) while jobs run, restart it after the hold time',
    topologies: ['standalone', 'sentinel', 'cluster'],
    redis: false,
    async inject(ctx) {
      await ctx.worker.kill()
      await sleep(Math.min(ctx.holdMs, 2000))
    },
    async heal(ctx) {
      await ctx.worker.start()
    },
  },
]

/** The faults that apply to `kind`, optionally only those named. */
export function faultsFor(kind: TopologyKind, names?: string[]): Fault[] {
  return FAULTS.filter((f) => f.topologies.includes(kind) && (!names || names.includes(f.name)))
}
