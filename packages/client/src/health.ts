import type { BreakerState } from './breaker.js'
import type { MasterNode } from './connection.js'
import { toCacheError } from './error-mapping.js'
import { parseInfo } from './info.js'
import type { Topology } from './types.js'

/** The health of one node, and of the whole connection. */
export interface NodeHealth {
  address: string
  ok: boolean
  latencyMs: number
  role?: string
  version?: string
  usedMemory?: number
  maxMemory?: number
  error?: string
}

/** The result of `conn.health()`. */
export interface HealthReport {
  ok: boolean
  latencyMs: number
  topology: Topology
  role: string | undefined
  version: string | undefined
  usedMemory: number
  maxMemory: number
  breaker: BreakerState
  nodes: NodeHealth[]
}

/** Pings every master and reports latency, role, version and memory. Never throws: `ok` says it. */
export async function healthOf(
  masters: MasterNode[],
  topology: Topology,
  breaker: BreakerState,
): Promise<HealthReport> {
  const nodes = await Promise.all(
    masters.map(async (node): Promise<NodeHealth> => {
      const start = performance.now()
      try {
        await node.send(['PING'])
        const latencyMs = performance.now() - start
        const info = parseInfo(String(await node.send(['INFO', 'server', 'memory', 'replication'])))
        const health: NodeHealth = {
          address: node.address,
          ok: true,
          latencyMs,
          usedMemory: Number(info.used_memory ?? 0),
          maxMemory: Number(info.maxmemory ?? 0),
        }
        if (info.role) health.role = info.role
        const version = info.valkey_version ?? info.redis_version
        if (version) health.version = version
        return health
      } catch (err) {
        return {
          address: node.address,
          ok: false,
          latencyMs: performance.now() - start,
          error: toCacheError(err, 'PING').code,
        }
      }
    }),
  )
  return {
    ok: nodes.length > 0 && nodes.every((n) => n.ok),
    latencyMs: Math.max(0, ...nodes.map((n) => n.latencyMs)),
    topology: topology,
    role: nodes[0]?.role,
    version: nodes.find((n) => n.version)?.version,
    usedMemory: nodes.reduce((s, n) => s + (n.usedMemory ?? 0), 0),
    maxMemory: nodes.reduce((s, n) => s + (n.maxMemory ?? 0), 0),
    breaker,
    nodes,
  }
}
