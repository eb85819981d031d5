/**
 * The Redis deployments the chaos suite faults: its own, never the shared test topologies (it kills them).
 *
 * Persistence, stated because the invariants depend on it: the standalone server runs with
 * `appendonly yes` + `appendfsync always` (every acknowledged write is on disk before the reply, so a
 * SIGKILL + restart keeps jobs and sessions); Sentinel and Cluster nodes persist nothing (the harness
 * default: no RDB, no AOF) and rely on their replica, so a write survives a failover only if it reached
 * the replica first (asynchronous replication: a master killed between the reply and the replication
 * loses it).
 */
import {
  type ClusterTopology,
  type RedisNode,
  type SentinelTopology,
  type StandaloneTopology,
  startCluster,
  startSentinel,
  startStandalone,
  waitFor,
} from '../src/harness/index.js'

export type TopologyKind = 'standalone' | 'sentinel' | 'cluster'

/** A running deployment and how the service and the worker reach it. */
export type ChaosTopology =
  | { kind: 'standalone'; topology: StandaloneTopology; persistence: string }
  | { kind: 'sentinel'; topology: SentinelTopology; persistence: string }
  | { kind: 'cluster'; topology: ClusterTopology; persistence: string }

/** Starts a deployment of `kind` configured as the module comment states. */
export async function startTopology(kind: TopologyKind): Promise<ChaosTopology> {
  if (kind === 'standalone') {
    const topology = await startStandalone({ config: { appendonly: 'yes', appendfsync: 'always' } })
    return { kind, topology, persistence: 'AOF, appendfsync always' }
  }
  if (kind === 'sentinel') {
    const topology = await startSentinel({
      replicas: 1,
      sentinels: 3,
      downAfterMs: 1000,
      failoverTimeoutMs: 3000,
    })
    return { kind, topology, persistence: 'none; 1 replica, 3 sentinels (down-after 1 s)' }
  }
  const topology = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 })
  return { kind, topology, persistence: 'none; 3 masters with 1 replica each (node timeout 1 s)' }
}

/** `connect()` options of @cache/client for the deployment (timeouts added by the caller). */
export function connectTarget(t: ChaosTopology): Record<string, unknown> {
  const info = t.topology.info()
  if (info.kind === 'standalone') return { url: info.url }
  if (info.kind === 'sentinel') return { sentinel: { name: info.name, sentinels: info.sentinels } }
  return { cluster: { nodes: info.nodes } }
}

/** The environment variables `configFromEnv()` reads for the same deployment (the worker process). */
export function connectEnv(t: ChaosTopology): Record<string, string> {
  const info = t.topology.info()
  if (info.kind === 'standalone') return { REDIS_URL: info.url }
  if (info.kind === 'sentinel')
    return {
      REDIS_SENTINELS: info.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: info.name,
    }
  return { REDIS_CLUSTER_NODES: info.nodes.map((n) => `${n.host}:${n.port}`).join(',') }
}

/**
 * The master a fault targets: the only one, or on a Cluster the master holding the most keys (the
 * service's sessions share one hash tag, so one shard carries them: the fault should hit it).
 */
export async function primary(t: ChaosTopology): Promise<RedisNode> {
  if (t.kind === 'standalone') return t.topology.master
  if (t.kind === 'sentinel') return t.topology.master()
  const masters = await t.topology.masters()
  const sizes = await Promise.all(masters.map(async (m) => Number(await m.command(['DBSIZE']))))
  return masters[sizes.indexOf(Math.max(...sizes))]!
}

/** Waits until the deployment is healthy again (every running node in its role, replicas linked). */
export async function waitTopologyHealthy(t: ChaosTopology, timeoutMs = 60_000): Promise<void> {
  await t.topology.waitHealthy(timeoutMs)
}

/**
 * Waits until every replica has the master's replication offset, so that what was acknowledged before a
 * fault is on the replica too ("written before the fault" means replicated, on a deployment without disk).
 */
export async function waitReplicated(t: ChaosTopology, timeoutMs = 10_000): Promise<void> {
  if (t.kind === 'standalone') return
  const masters = t.kind === 'sentinel' ? [await t.topology.master()] : await t.topology.masters()
  for (const master of masters) {
    const info = await master.info('replication')
    const offset = Number(info.master_repl_offset)
    await waitFor(
      `${master.label} replicas at offset ${offset}`,
      async () => {
        const now = await master.info('replication')
        const slaves = Object.entries(now).filter(([k]) => /^slave\d+$/.test(k))
        return (
          slaves.length > 0 && slaves.every(([, v]) => Number(/offset=(\d+)/.exec(v)?.[1] ?? -1) >= offset)
        )
      },
      { timeoutMs, intervalMs: 50 },
    )
  }
}
