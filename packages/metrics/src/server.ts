import {
  type Arg,
  type Connection,
  connect,
  type MasterNode,
  parseInfo,
  toCacheError,
  withDeadline,
} from '@cache/client'

/** One SLOWLOG entry: the command name only (arguments can hold keys and values, so they are never read). */
export interface SlowlogEntry {
  id: number
  /** When it ran (ms since the epoch). */
  at: number
  durationMicros: number
  command: string
}

/** One LATENCY LATEST event. */
export interface LatencyEvent {
  event: string
  at: number
  latestMs: number
  maxMs: number
}

/** A replica as its master reports it (INFO replication). */
export interface ReplicaLink {
  address: string
  state: string
  offset: number
  /** Bytes behind the master's replication offset. */
  lagBytes: number
  /** Seconds since the replica's last acknowledgement. */
  lagSeconds: number
}

/** What one node reports. Fields a node could not give (ACL, old version) are absent and explained in `notes`. */
export interface NodeInsight {
  address: string
  role: 'master' | 'replica' | 'unknown'
  ok: boolean
  error?: string
  version?: string
  uptimeSeconds?: number
  memory?: {
    used: number
    rss: number
    peak: number
    maxmemory: number
    policy: string
    fragmentationRatio: number
    /** MEMORY STATS, numeric fields. */
    stats?: Record<string, number>
  }
  evictedKeys?: number
  expiredKeys?: number
  keyspaceHits?: number
  keyspaceMisses?: number
  /** hits / (hits + misses) since the server started or CONFIG RESETSTAT; null without reads. */
  hitRatio?: number | null
  opsPerSec?: number
  connectedClients?: number
  blockedClients?: number
  rejectedConnections?: number
  keys?: number
  keysWithExpiry?: number
  replication?: {
    masterLinkStatus?: string
    /** Replica: seconds since the last interaction with the master. */
    lastIoSecondsAgo?: number
    /** Master: its replicas and how far behind they are. */
    replicas?: ReplicaLink[]
  }
  slowlog?: SlowlogEntry[]
  /** SLOWLOG LEN: entries currently kept. */
  slowlogLength?: number
  latency?: LatencyEvent[]
  /** Why some fields are missing (`SLOWLOG: NOPERM …`). */
  notes: string[]
}

/** The result of `metrics.server()`. */
export interface ServerInsight {
  topology: Connection['topology']
  at: number
  nodes: NodeInsight[]
}

/** Options of `metrics.server()`. */
export interface ServerOptions {
  /** Visit the replicas too (every master's INFO replication lists them). @default true */
  replicas?: boolean
  /** SLOWLOG GET count per node. @default 10 */
  slowlog?: number
  /** Round-trip limit of each command. @default 5000 */
  timeoutMs?: number
}

const num = (v: string | undefined): number | undefined =>
  v === undefined || v === '' ? undefined : Number(v)

function parseReplicas(info: Record<string, string>): ReplicaLink[] {
  const masterOffset = Number(info.master_repl_offset ?? 0)
  const out: ReplicaLink[] = []
  for (const [field, value] of Object.entries(info)) {
    if (!/^slave\d+$/.test(field)) continue
    const kv = Object.fromEntries(value.split(',').map((p) => p.split('=') as [string, string]))
    const offset = Number(kv.offset ?? 0)
    out.push({
      address: `${kv.ip}:${kv.port}`,
      state: kv.state ?? 'unknown',
      offset,
      lagBytes: Math.max(0, masterOffset - offset),
      lagSeconds: Number(kv.lag ?? 0),
    })
  }
  return out
}

/** Sums `db0:keys=1,expires=0,avg_ttl=0` lines. */
function keyspace(info: Record<string, string>): { keys: number; expires: number } {
  let keys = 0
  let expires = 0
  for (const [field, value] of Object.entries(info)) {
    if (!/^db\d+$/.test(field)) continue
    const m = /keys=(\d+),expires=(\d+)/.exec(value)
    if (m) {
      keys += Number(m[1])
      expires += Number(m[2])
    }
  }
  return { keys, expires }
}

function flatNumbers(reply: unknown): Record<string, number> {
  const out: Record<string, number> = {}
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const v = Number(reply[i + 1])
      if (Number.isFinite(v) && !Array.isArray(reply[i + 1])) out[String(reply[i])] = v
    }
  } else if (reply && typeof reply === 'object') {
    for (const [k, v] of Object.entries(reply as Record<string, unknown>)) {
      if (typeof v === 'number' || (typeof v === 'string' && Number.isFinite(Number(v)))) out[k] = Number(v)
    }
  }
  return out
}

type Send = <T = unknown>(args: Arg[]) => Promise<T>

/** A command whose failure (ACL NOPERM, unknown command on an old server) becomes a note, not an error. */
async function optional<T>(notes: string[], label: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run()
  } catch (err) {
    const e = toCacheError(err, label)
    notes.push(`${label}: ${e.message.replace(/^\[[^\]]+\]\s*/, '')}`)
    return undefined
  }
}

/** Reads INFO, SLOWLOG, LATENCY LATEST and MEMORY STATS from one node; never throws. */
export async function inspectNode(address: string, send: Send, slowlogCount: number): Promise<NodeInsight> {
  const notes: string[] = []
  let info: Record<string, string>
  try {
    info = parseInfo(String(await send(['INFO', 'all'])))
  } catch (err) {
    return { address, role: 'unknown', ok: false, error: toCacheError(err, 'INFO').code, notes }
  }
  const hits = num(info.keyspace_hits)
  const misses = num(info.keyspace_misses)
  const ks = keyspace(info)
  const node: NodeInsight = {
    address,
    role: info.role === 'master' ? 'master' : info.role === 'slave' ? 'replica' : 'unknown',
    ok: true,
    notes,
    memory: {
      used: Number(info.used_memory ?? 0),
      rss: Number(info.used_memory_rss ?? 0),
      peak: Number(info.used_memory_peak ?? 0),
      maxmemory: Number(info.maxmemory ?? 0),
      policy: info.maxmemory_policy ?? 'unknown',
      fragmentationRatio: Number(info.mem_fragmentation_ratio ?? 0),
    },
    keys: ks.keys,
    keysWithExpiry: ks.expires,
  }
  const version = info.valkey_version ?? info.redis_version
  if (version) node.version = version
  const set = <K extends keyof NodeInsight>(k: K, v: NodeInsight[K] | undefined) => {
    if (v !== undefined) node[k] = v
  }
  set('uptimeSeconds', num(info.uptime_in_seconds))
  set('evictedKeys', num(info.evicted_keys))
  set('expiredKeys', num(info.expired_keys))
  set('keyspaceHits', hits)
  set('keyspaceMisses', misses)
  if (hits !== undefined && misses !== undefined)
    node.hitRatio = hits + misses > 0 ? hits / (hits + misses) : null
  set('opsPerSec', num(info.instantaneous_ops_per_sec))
  set('connectedClients', num(info.connected_clients))
  set('blockedClients', num(info.blocked_clients))
  set('rejectedConnections', num(info.rejected_connections))
  node.replication =
    node.role === 'replica'
      ? {
          ...(info.master_link_status ? { masterLinkStatus: info.master_link_status } : {}),
          ...(info.master_last_io_seconds_ago
            ? { lastIoSecondsAgo: Number(info.master_last_io_seconds_ago) }
            : {}),
        }
      : { replicas: parseReplicas(info) }

  const slow = await optional(notes, 'SLOWLOG', async () => {
    const entries = await send<unknown[][]>(['SLOWLOG', 'GET', String(slowlogCount)])
    const length = await send<number>(['SLOWLOG', 'LEN'])
    return { entries, length: Number(length) }
  })
  if (slow) {
    node.slowlogLength = slow.length
    node.slowlog = slow.entries.map((e) => ({
      id: Number(e[0]),
      at: Number(e[1]) * 1000,
      durationMicros: Number(e[2]),
      command: String((e[3] as unknown[] | undefined)?.[0] ?? '').toUpperCase(),
    }))
  }
  const latency = await optional(notes, 'LATENCY LATEST', () => send<unknown[][]>(['LATENCY', 'LATEST']))
  if (latency) {
    node.latency = latency.map((e) => ({
      event: String(e[0]),
      at: Number(e[1]) * 1000,
      latestMs: Number(e[2]),
      maxMs: Number(e[3]),
    }))
  }
  const stats = await optional(notes, 'MEMORY STATS', () => send(['MEMORY', 'STATS']))
  if (stats !== undefined && node.memory) node.memory.stats = flatNumbers(stats)
  return node
}

/** Every master of the connection, then (optionally) every replica each master lists. */
export async function serverInsight(conn: Connection, options: ServerOptions = {}): Promise<ServerInsight> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const slowlog = options.slowlog ?? 10
  const masters: MasterNode[] = await conn.masters()
  const nodes = await Promise.all(
    masters.map((m) => inspectNode(m.address, (args) => m.send(args, { timeoutMs }), slowlog)),
  )
  if (options.replicas !== false) {
    const replicaAddresses = new Set<string>()
    for (const n of nodes) for (const r of n.replication?.replicas ?? []) replicaAddresses.add(r.address)
    const replicas = await Promise.all(
      [...replicaAddresses].map((a) => inspectReplica(conn, a, timeoutMs, slowlog)),
    )
    nodes.push(...replicas)
  }
  return { topology: conn.topology, at: Date.now(), nodes }
}

/** A short-lived standalone connection to a replica, with the connection's credentials and TLS. */
async function inspectReplica(
  conn: Connection,
  address: string,
  timeoutMs: number,
  slowlog: number,
): Promise<NodeInsight> {
  const i = address.lastIndexOf(':')
  const { username, password, tls } = conn.config
  let replica: Connection | undefined
  try {
    const pending = connect({
      host: address.slice(0, i),
      port: Number(address.slice(i + 1)),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(tls ? { tls } : {}),
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      reconnect: { maxAttempts: 1 },
      breaker: false,
      offlineQueue: false,
    })
    replica = await withDeadline(pending, timeoutMs, 'connect to replica').catch((err) => {
      void pending.then((c) => c.close()).catch(() => {})
      throw err
    })
    const r = replica
    return await inspectNode(address, (args) => r.send(args), slowlog)
  } catch (err) {
    return { address, role: 'replica', ok: false, error: toCacheError(err, 'connect').code, notes: [] }
  } finally {
    await replica?.close().catch(() => {})
  }
}
