import { RedisNode } from './node.js'
import { pairs, type RespReply } from './resp.js'
import { waitFor } from './wait.js'

/** Connection facts a test (or another process) needs to reach a topology. Plain data: JSON-safe. */
export type TopologyInfo =
  | { kind: 'standalone'; url: string; port: number; replicaPorts: number[] }
  | { kind: 'sentinel'; name: string; sentinels: Array<{ host: string; port: number }>; dataPorts: number[] }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }> }

interface Topology {
  readonly nodes: RedisNode[]
  info(): TopologyInfo
  stop(): Promise<void>
}

async function stopAll(nodes: RedisNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()))
}

async function replicaLinkUp(node: RedisNode): Promise<boolean> {
  const info = await node.info('replication')
  return info.role === 'slave' && info.master_link_status === 'up'
}

/** A master with optional replicas. */
export class StandaloneTopology implements Topology {
  constructor(
    readonly master: RedisNode,
    readonly replicas: RedisNode[],
  ) {}

  get nodes(): RedisNode[] {
    return [this.master, ...this.replicas]
  }

  get url(): string {
    return this.master.url
  }

  info(): TopologyInfo {
    return {
      kind: 'standalone',
      url: this.url,
      port: this.master.port,
      replicaPorts: this.replicas.map((r) => r.port),
    }
  }

  /** Waits until the master answers and every running replica's link is up. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitFor('master PING', async () => (await this.master.command(['PING'])) === 'PONG', { timeoutMs })
    for (const r of this.replicas.filter((n) => n.running)) {
      await waitFor(`replica ${r.label} link up`, () => replicaLinkUp(r), { timeoutMs })
    }
  }

  stop(): Promise<void> {
    return stopAll(this.nodes)
  }
}

/** Starts a standalone server, optionally with `replicas` replicas attached and in sync. */
export async function startStandalone(
  options: { replicas?: number; config?: Record<string, string | number> } = {},
): Promise<StandaloneTopology> {
  const master = await RedisNode.start({ label: 'standalone', config: options.config })
  const replicas = await Promise.all(
    Array.from({ length: options.replicas ?? 0 }, () =>
      RedisNode.start({
        label: 'replica',
        config: { ...options.config, replicaof: `127.0.0.1 ${master.port}` },
      }),
    ),
  )
  const topology = new StandaloneTopology(master, replicas)
  await topology.waitHealthy()
  return topology
}

/** A master, replicas and sentinels watching them. */
export class SentinelTopology implements Topology {
  constructor(
    readonly name: string,
    readonly dataNodes: RedisNode[],
    readonly sentinels: RedisNode[],
  ) {}

  get nodes(): RedisNode[] {
    return [...this.dataNodes, ...this.sentinels]
  }

  info(): TopologyInfo {
    return {
      kind: 'sentinel',
      name: this.name,
      sentinels: this.sentinels.map((s) => ({ host: s.host, port: s.port })),
      dataPorts: this.dataNodes.map((d) => d.port),
    }
  }

  /** The port the sentinels currently name as master (asks the first running sentinel). */
  async masterPort(): Promise<number> {
    for (const s of this.sentinels.filter((n) => n.running && !n.paused)) {
      try {
        const reply = await s.command(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name], 1000)
        if (Array.isArray(reply)) return Number(reply[1])
      } catch {}
    }
    throw new Error('[@cache/tools] no sentinel answered GET-MASTER-ADDR-BY-NAME')
  }

  /** The data node the sentinels currently name as master. */
  async master(): Promise<RedisNode> {
    const port = await this.masterPort()
    const node = this.dataNodes.find((n) => n.port === port)
    if (!node) throw new Error(`[@cache/tools] sentinels name unknown master port ${port}`)
    return node
  }

  /**
   * Waits until every running sentinel agrees on one master, that node says it is master, and every other
   * running data node replicates from it with its link up.
   */
  async waitHealthy(timeoutMs = 30_000): Promise<RedisNode> {
    return waitFor(
      'sentinel topology healthy',
      async () => {
        const ports = new Set<number>()
        for (const s of this.sentinels.filter((n) => n.running && !n.paused)) {
          const reply = await s.command(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name], 1000)
          if (!Array.isArray(reply)) return false
          ports.add(Number(reply[1]))
        }
        if (ports.size !== 1) return false
        const master = this.dataNodes.find((n) => ports.has(n.port))
        if (!master?.running || (await master.role()) !== 'master') return false
        for (const r of this.dataNodes.filter((n) => n !== master && n.running && !n.paused)) {
          const info = await r.info('replication')
          if (info.master_port !== String(master.port) || info.master_link_status !== 'up') return false
        }
        return master
      },
      { timeoutMs, intervalMs: 100 },
    )
  }

  /** SENTINEL FAILOVER, then waits for the new master to be agreed and replicated. Returns it. */
  async failover(timeoutMs = 30_000): Promise<RedisNode> {
    const before = await this.masterPort()
    const sentinel = this.sentinels.find((n) => n.running && !n.paused)
    if (!sentinel) throw new Error('[@cache/tools] no running sentinel')
    await sentinel.command(['SENTINEL', 'FAILOVER', this.name])
    await waitFor('sentinel failover', async () => (await this.masterPort()) !== before, { timeoutMs })
    return this.waitHealthy(timeoutMs)
  }

  stop(): Promise<void> {
    return stopAll(this.nodes)
  }
}

/** Starts 1 master, `replicas` replicas and `sentinels` sentinels (quorum = majority), all in agreement. */
export async function startSentinel(
  options: {
    replicas?: number
    sentinels?: number
    name?: string
    downAfterMs?: number
    failoverTimeoutMs?: number
  } = {},
): Promise<SentinelTopology> {
  const name = options.name ?? 'mymaster'
  const replicaCount = options.replicas ?? 1
  const sentinelCount = options.sentinels ?? 3
  const master = await RedisNode.start({ label: 'sentinel-master' })
  const replicas = await Promise.all(
    Array.from({ length: replicaCount }, () =>
      RedisNode.start({ label: 'sentinel-replica', config: { replicaof: `127.0.0.1 ${master.port}` } }),
    ),
  )
  const quorum = Math.floor(sentinelCount / 2) + 1
  const conf = [
    `sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`,
    `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
    `sentinel parallel-syncs ${name} 1`,
  ].join('\n')
  const sentinels = await Promise.all(
    Array.from({ length: sentinelCount }, () => RedisNode.start({ label: 'sentinel', sentinelConfig: conf })),
  )
  const topology = new SentinelTopology(name, [master, ...replicas], sentinels)
  try {
    await topology.waitHealthy()
    // Sentinels find replicas and each other through hello messages: wait until every one knows all.
    for (const s of sentinels) {
      await waitFor(`${s.label} sees the replicas and the other sentinels`, async () => {
        const known = (await s.command(['SENTINEL', 'REPLICAS', name])) as RespReply[]
        const peers = (await s.command(['SENTINEL', 'SENTINELS', name])) as RespReply[]
        const upReplicas = known.map(pairs).filter((r) => !r.flags?.includes('down'))
        return upReplicas.length === replicaCount && peers.length === sentinelCount - 1
      })
    }
  } catch (err) {
    await topology.stop()
    throw err
  }
  return topology
}

interface ClusterNodeLine {
  id: string
  port: number
  flags: string[]
  masterId: string
  slots: string[]
  connected: boolean
}

function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(' ')
      return {
        id: parts[0] ?? '',
        port: Number(/:(\d+)@/.exec(parts[1] ?? '')?.[1]),
        flags: (parts[2] ?? '').split(','),
        masterId: parts[3] ?? '-',
        connected: parts[7] === 'connected',
        slots: parts.slice(8),
      }
    })
}

const CLUSTER_SLOTS = 16384

/** A Redis Cluster: masters with replicas, all 16384 slots assigned. */
export class ClusterTopology implements Topology {
  constructor(readonly nodes: RedisNode[]) {}

  info(): TopologyInfo {
    return { kind: 'cluster', nodes: this.nodes.map((n) => ({ host: n.host, port: n.port })) }
  }

  /** CLUSTER NODES as seen by a running node. */
  async view(): Promise<ClusterNodeLine[]> {
    for (const n of this.nodes.filter((x) => x.running && !x.paused)) {
      try {
        return parseClusterNodes(String(await n.command(['CLUSTER', 'NODES'], 1000)))
      } catch {}
    }
    throw new Error('[@cache/tools] no cluster node answered CLUSTER NODES')
  }

  /** The running masters that own slots. */
  async masters(): Promise<RedisNode[]> {
    const view = await this.view()
    const ports = view
      .filter((l) => l.flags.includes('master') && !l.flags.includes('fail') && l.slots.length > 0)
      .map((l) => l.port)
    return this.nodes.filter((n) => ports.includes(n.port))
  }

  /** The node serving `slot` as master. */
  async masterForSlot(slot: number): Promise<RedisNode> {
    const view = await this.view()
    for (const line of view.filter((l) => l.flags.includes('master') && !l.flags.includes('fail'))) {
      for (const range of line.slots) {
        const [a, b] = range.split('-').map(Number)
        if (a !== undefined && slot >= a && slot <= (b ?? a)) {
          const node = this.nodes.find((n) => n.port === line.port)
          if (node) return node
        }
      }
    }
    throw new Error(`[@cache/tools] no master serves slot ${slot}`)
  }

  /** The replicas of `master`. */
  async replicasOf(master: RedisNode): Promise<RedisNode[]> {
    const view = await this.view()
    const id = view.find((l) => l.port === master.port)?.id
    const ports = view.filter((l) => l.masterId === id).map((l) => l.port)
    return this.nodes.filter((n) => ports.includes(n.port))
  }

  /** Every running node reports cluster_state:ok and all slots are served by live masters. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'cluster_state:ok on every running node',
      async () => {
        for (const n of this.nodes.filter((x) => x.running && !x.paused)) {
          const info = String(await n.command(['CLUSTER', 'INFO'], 1000))
          if (!info.includes('cluster_state:ok')) return false
          if (!info.includes(`cluster_slots_ok:${CLUSTER_SLOTS}`)) return false
        }
        const view = await this.view()
        const live = this.nodes.filter((x) => x.running && !x.paused).map((x) => x.port)
        // Every slot owner is alive (a killed master has been replaced), and every live node is known as
        // connected (a restarted node has rejoined).
        const owners = view.filter((l) => l.flags.includes('master') && l.slots.length > 0)
        if (owners.some((l) => !live.includes(l.port) || l.flags.includes('fail'))) return false
        return view
          .filter((l) => live.includes(l.port))
          .every((l) => l.connected && !l.flags.includes('fail'))
      },
      { timeoutMs, intervalMs: 100 },
    )
  }

  /**
   * Manual CLUSTER FAILOVER: a replica of `master` (default: the master of slot 0) takes over, and the
   * cluster is healthy again. Returns the new master.
   */
  async failover(master?: RedisNode, timeoutMs = 30_000): Promise<RedisNode> {
    const old = master ?? (await this.masterForSlot(0))
    const [replica] = await this.replicasOf(old)
    if (!replica) throw new Error(`[@cache/tools] ${old.label} has no replica to fail over to`)
    await replica.command(['CLUSTER', 'FAILOVER'])
    await waitFor(`${replica.label} promoted`, async () => (await replica.role()) === 'master', { timeoutMs })
    await this.waitHealthy(timeoutMs)
    return replica
  }

  stop(): Promise<void> {
    return stopAll(this.nodes)
  }
}

/** Starts a cluster of `masters` masters with `replicasPerMaster` replicas each and waits for cluster_state:ok. */
export async function startCluster(
  options: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {},
): Promise<ClusterTopology> {
  const masterCount = options.masters ?? 3
  const perMaster = options.replicasPerMaster ?? 1
  const config = {
    'cluster-enabled': 'yes',
    'cluster-config-file': 'nodes.conf',
    'cluster-node-timeout': options.nodeTimeoutMs ?? 1000,
    // Replicas may take over whatever the age of their data: tests fail masters over on purpose.
    'cluster-replica-validity-factor': 0,
  }
  const nodes = await Promise.all(
    Array.from({ length: masterCount * (1 + perMaster) }, () =>
      RedisNode.start({ label: 'cluster', config }),
    ),
  )
  const topology = new ClusterTopology(nodes)
  try {
    const masters = nodes.slice(0, masterCount)
    const replicas = nodes.slice(masterCount)
    await Promise.all(
      masters.map((m, i) => {
        const from = Math.floor((i * CLUSTER_SLOTS) / masterCount)
        const to = Math.floor(((i + 1) * CLUSTER_SLOTS) / masterCount) - 1
        return m.command(['CLUSTER', 'ADDSLOTSRANGE', from, to])
      }),
    )
    const first = nodes[0]!
    await Promise.all(nodes.slice(1).map((n) => n.command(['CLUSTER', 'MEET', '127.0.0.1', first.port])))
    await waitFor('every node knows every other', async () => {
      for (const n of nodes) {
        const view = parseClusterNodes(String(await n.command(['CLUSTER', 'NODES'])))
        if (view.length !== nodes.length || view.some((l) => l.flags.includes('handshake'))) return false
      }
      return true
    })
    const ids = new Map<number, string>()
    for (const line of parseClusterNodes(String(await first.command(['CLUSTER', 'NODES'])))) {
      ids.set(line.port, line.id)
    }
    await Promise.all(
      replicas.map((r, i) => r.command(['CLUSTER', 'REPLICATE', ids.get(masters[i % masterCount]!.port)!])),
    )
    await Promise.all(replicas.map((r) => waitFor(`${r.label} in sync`, () => replicaLinkUp(r))))
    await topology.waitHealthy()
    // Every node must also see every replica, or clients discovering topology may miss one.
    await waitFor('replicas visible everywhere', async () => {
      for (const n of nodes) {
        const view = parseClusterNodes(String(await n.command(['CLUSTER', 'NODES'])))
        if (view.filter((l) => l.flags.includes('slave')).length !== replicas.length) return false
      }
      return true
    })
  } catch (err) {
    await topology.stop()
    throw err
  }
  return topology
}
