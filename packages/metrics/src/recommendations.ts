import { type Duration, InvalidArgumentError, parseDuration } from '@cache/client'
import { type BigKeysReport, QUEUE_KEY } from './big-keys.js'

const PKG = '@cache/metrics'

import type { NodeInsight, ServerInsight } from './server.js'

/** One piece of advice. `id` is stable (docs/observability.md explains each). */
export interface Recommendation {
  id:
    | 'no-maxmemory'
    | 'queue-eviction-policy'
    | 'cache-eviction-policy'
    | 'evictions'
    | 'memory-pressure'
    | 'fragmentation'
    | 'swapping'
    | 'keys-without-ttl'
    | 'big-keys'
    | 'slow-commands'
    | 'latency-events'
    | 'low-hit-ratio'
    | 'replication-lag'
    | 'replica-link-down'
    | 'rejected-connections'
    | 'insight-denied'
  severity: 'info' | 'warning' | 'critical'
  /** The node it is about, when it is about one. */
  node?: string
  message: string
}

/** Thresholds of `metrics.recommendations()`. */
export interface RecommendationOptions {
  /** Above this mem_fragmentation_ratio (with at least 64 MiB used). @default 1.5 */
  fragmentation?: number
  /** Used memory / maxmemory above this. @default 0.9 */
  memoryPressure?: number
  /** Share of sampled keys without TTL (outside queues) above this. @default 0.5 */
  withoutTtl?: number
  /** A key bigger than this (bytes). @default 10 MiB */
  bigKey?: number
  /** Keyspace hit ratio below this (with at least 1000 reads). @default 0.8 */
  hitRatio?: number
  /** Replica lag above this (bytes). @default 1 MiB */
  replicationLagBytes?: number
  /** Keys to sample for the TTL, size and queue advice; 0 samples none (no SCAN; that advice is skipped). @default 2000 */
  sample?: number
  /**
   * How long a key sample is reused by later calls of the same Metrics (a dashboard refreshing every few
   * seconds SCANs once per period, not once per refresh); `server()` is read on every call. 0 samples anew.
   * @default '5m'
   */
  sampleMaxAge?: Duration
}

/** The key sample of `recommendations()` by default. */
export const DEFAULT_RECOMMENDATION_SAMPLE = 2_000
/** How long `recommendations()` reuses a key sample by default. */
export const DEFAULT_SAMPLE_MAX_AGE_MS = 300_000

/**
 * The key sample of `recommendations()`, reused for `sampleMaxAge` (concurrent callers share one SCAN; a failed
 * sample is not kept). One per Metrics. @internal
 */
export class KeySampleCache {
  #entry: { sample: number; at: number; report: Promise<BigKeysReport> } | undefined

  constructor(
    private readonly take: (sample: number) => Promise<BigKeysReport>,
    private readonly clock: () => number,
  ) {}

  /** The sample of `options` (validated: `sample`, `sampleMaxAge` are E_INVALID_ARGUMENT when bad). */
  get(options: RecommendationOptions): Promise<BigKeysReport> | undefined {
    const sample = options.sample ?? DEFAULT_RECOMMENDATION_SAMPLE
    if (typeof sample !== 'number' || !Number.isInteger(sample) || sample < 0) {
      throw new InvalidArgumentError(PKG, 'sample', `must be an integer ≥ 0, got ${JSON.stringify(sample)}`)
    }
    let maxAge = DEFAULT_SAMPLE_MAX_AGE_MS
    if (options.sampleMaxAge !== undefined) {
      try {
        maxAge = parseDuration(options.sampleMaxAge, { field: 'sampleMaxAge', pkg: PKG })
      } catch {
        throw new InvalidArgumentError(
          PKG,
          'sampleMaxAge',
          `must be a duration ≥ 0 (ms or '5m'), got ${JSON.stringify(options.sampleMaxAge)}`,
        )
      }
    }
    if (sample === 0) return undefined
    const now = this.clock()
    const e = this.#entry
    if (e && e.sample === sample && now - e.at < maxAge) return e.report
    const report = this.take(sample)
    const entry = { sample, at: now, report }
    this.#entry = entry
    report.catch(() => {
      if (this.#entry === entry) this.#entry = undefined
    })
    return report
  }
}

const MiB = 1024 * 1024

/** Advice from a server insight and a key sample; pure, so each rule is testable on its own. */
export function recommend(
  insight: ServerInsight,
  keys: BigKeysReport | undefined,
  options: RecommendationOptions = {},
): Recommendation[] {
  const o = {
    fragmentation: options.fragmentation ?? 1.5,
    memoryPressure: options.memoryPressure ?? 0.9,
    withoutTtl: options.withoutTtl ?? 0.5,
    bigKey: options.bigKey ?? 10 * MiB,
    hitRatio: options.hitRatio ?? 0.8,
    replicationLagBytes: options.replicationLagBytes ?? MiB,
  }
  const out: Recommendation[] = []
  const hasQueues = (keys?.queueKeys ?? 0) > 0
  const masters = insight.nodes.filter((n) => n.ok && n.role !== 'replica')
  for (const n of insight.nodes) {
    if (!n.ok) continue
    if (n.notes.length > 0) {
      out.push({
        id: 'insight-denied',
        severity: 'info',
        node: n.address,
        message: `Some insight commands were refused (${n.notes.map((x) => x.split(':')[0]).join(', ')}); grant them to the monitoring user for a complete picture`,
      })
    }
  }
  for (const n of masters) nodeAdvice(n, o, hasQueues, out)
  for (const n of insight.nodes) {
    if (!n.ok) continue
    if (n.role === 'replica' && n.replication?.masterLinkStatus && n.replication.masterLinkStatus !== 'up') {
      out.push({
        id: 'replica-link-down',
        severity: 'critical',
        node: n.address,
        message: `The replica's link to its master is ${n.replication.masterLinkStatus}: it serves stale data and cannot take over`,
      })
    }
    for (const r of n.replication?.replicas ?? []) {
      if (r.lagBytes > o.replicationLagBytes) {
        out.push({
          id: 'replication-lag',
          severity: 'warning',
          node: r.address,
          message: `Replica ${r.address} is ${r.lagBytes} bytes behind ${n.address}: reads from it are stale and a failover would lose those writes`,
        })
      }
    }
  }
  if (keys && keys.sampled > 0) {
    const nonQueue = keys.withoutTtl.top.filter((k) => !QUEUE_KEY.test(k.key))
    const share = keys.withoutTtl.count / keys.sampled
    if (share > o.withoutTtl && nonQueue.length > 0) {
      out.push({
        id: 'keys-without-ttl',
        severity: 'warning',
        message: `${Math.round(share * 100)}% of ${keys.sampled} sampled keys have no TTL (${keys.withoutTtl.bytes} bytes), e.g. ${nonQueue
          .slice(0, 3)
          .map((k) => k.key)
          .join(', ')}: cache entries should expire, and volatile-* eviction cannot free them`,
      })
    }
    const big = keys.top.filter((k) => (k.bytes ?? 0) > o.bigKey)
    if (big.length > 0) {
      out.push({
        id: 'big-keys',
        severity: 'warning',
        message: `${big.length} sampled key(s) above ${o.bigKey} bytes (largest ${big[0]!.key}, ${big[0]!.bytes} bytes): big keys block the server when read, deleted or migrated; split them`,
      })
    }
  }
  const order = { critical: 0, warning: 1, info: 2 }
  return out.sort((a, b) => order[a.severity] - order[b.severity])
}

function nodeAdvice(
  n: NodeInsight,
  o: Required<Omit<RecommendationOptions, 'sample' | 'sampleMaxAge'>>,
  hasQueues: boolean,
  out: Recommendation[],
): void {
  const m = n.memory
  const at = n.address
  if (m) {
    const policy = m.policy
    if (m.maxmemory === 0) {
      out.push({
        id: 'no-maxmemory',
        severity: 'warning',
        node: at,
        message: `maxmemory is not set: the server grows until the OS kills it; set maxmemory (and a policy) below the machine's memory`,
      })
    }
    if (hasQueues && policy !== 'noeviction') {
      out.push({
        id: 'queue-eviction-policy',
        severity: 'critical',
        node: at,
        message: `Queue (BullMQ) keys live here with maxmemory-policy ${policy}: an eviction silently loses jobs; use noeviction (a separate server for caches)`,
      })
    } else if (!hasQueues && policy === 'noeviction' && m.maxmemory > 0) {
      out.push({
        id: 'cache-eviction-policy',
        severity: 'warning',
        node: at,
        message: `maxmemory-policy noeviction on a cache: writes fail with OOM when memory is full; allkeys-lfu keeps the hot keys`,
      })
    }
    if (m.maxmemory > 0 && m.used / m.maxmemory > o.memoryPressure) {
      out.push({
        id: 'memory-pressure',
        severity: 'warning',
        node: at,
        message: `Memory at ${Math.round((m.used / m.maxmemory) * 100)}% of maxmemory`,
      })
    }
    if (m.fragmentationRatio > o.fragmentation && m.used >= 64 * MiB) {
      out.push({
        id: 'fragmentation',
        severity: 'warning',
        node: at,
        message: `mem_fragmentation_ratio ${m.fragmentationRatio}: RSS well above the data; enable activedefrag yes (or restart after a failover)`,
      })
    }
    if (m.fragmentationRatio > 0 && m.fragmentationRatio < 1 && m.used >= 64 * MiB) {
      out.push({
        id: 'swapping',
        severity: 'critical',
        node: at,
        message: `mem_fragmentation_ratio ${m.fragmentationRatio} < 1: part of the data is swapped out; latency will suffer`,
      })
    }
  }
  if ((n.evictedKeys ?? 0) > 0) {
    out.push({
      id: 'evictions',
      severity: hasQueues ? 'critical' : 'info',
      node: at,
      message: `${n.evictedKeys} keys evicted since start (policy ${m?.policy ?? 'unknown'}): memory is full; raise maxmemory or shorten TTLs`,
    })
  }
  const reads = (n.keyspaceHits ?? 0) + (n.keyspaceMisses ?? 0)
  if (typeof n.hitRatio === 'number' && reads >= 1000 && n.hitRatio < o.hitRatio) {
    out.push({
      id: 'low-hit-ratio',
      severity: 'info',
      node: at,
      message: `Keyspace hit ratio ${n.hitRatio.toFixed(2)} over ${reads} reads: TTLs may be too short or keys not shared between callers`,
    })
  }
  const slow = n.slowlog ?? []
  if (slow.length > 0) {
    const commands = [...new Set(slow.map((s) => s.command))].slice(0, 5)
    out.push({
      id: 'slow-commands',
      severity: 'info',
      node: at,
      message: `${n.slowlogLength ?? slow.length} slow command(s) logged (${commands.join(', ')}; slowest ${Math.max(...slow.map((s) => s.durationMicros))} µs): check for O(N) commands on big keys`,
    })
  }
  const latency = n.latency ?? []
  if (latency.length > 0) {
    out.push({
      id: 'latency-events',
      severity: 'info',
      node: at,
      message: `Latency events: ${latency.map((l) => `${l.event} max ${l.maxMs} ms`).join(', ')}`,
    })
  }
  if ((n.rejectedConnections ?? 0) > 0) {
    out.push({
      id: 'rejected-connections',
      severity: 'warning',
      node: at,
      message: `${n.rejectedConnections} connections rejected (maxclients): pool connections or raise maxclients`,
    })
  }
}
