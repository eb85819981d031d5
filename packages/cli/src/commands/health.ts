import { type Connection, connect, type MasterNode, type NodeHealth, parseInfo } from '@cache/client'
import type { Command } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { formatBytes, formatMs, table } from '../output.js'

/** One node of the deployment as `cache health` reports it. */
export interface NodeReport extends Omit<NodeHealth, 'error'> {
  kind: 'master' | 'replica' | 'sentinel'
  fragmentation?: number
  /** master: replicas attached; replica: link status, the master's address and the lag in bytes of replication offset. */
  replication?: Record<string, string | number>
  /** What is wrong, when `ok` is false. */
  problems: string[]
  error?: string
}

/** The result of `cache health`. */
export interface HealthResult {
  ok: boolean
  topology: string
  nodes: NodeReport[]
  /** Cluster: CLUSTER INFO state; Sentinel: the monitored master's flags. */
  cluster?: { state: string; slotsOk: number; knownNodes: number }
  sentinel?: { name: string; master: string; quorum: number; flags: string }
}

interface Probe {
  send<T = unknown>(args: string[]): Promise<T>
}

async function probe(
  address: string,
  kind: NodeReport['kind'],
  node: Probe,
): Promise<NodeReport & { info?: Record<string, string> }> {
  const start = performance.now()
  try {
    await node.send(['PING'])
    const latencyMs = performance.now() - start
    const info = parseInfo(String(await node.send(['INFO'])))
    const report: NodeReport & { info: Record<string, string> } = {
      address,
      kind,
      ok: true,
      latencyMs,
      problems: [],
      info,
    }
    const version = info.valkey_version ?? info.redis_version
    if (version) report.version = version
    if (kind === 'sentinel') {
      report.role = 'sentinel'
      return report
    }
    report.role = info.role ?? 'unknown'
    report.usedMemory = Number(info.used_memory ?? 0)
    report.maxMemory = Number(info.maxmemory ?? 0)
    if (info.mem_fragmentation_ratio) report.fragmentation = Number(info.mem_fragmentation_ratio)
    if (report.maxMemory > 0 && report.usedMemory / report.maxMemory > 0.9)
      report.problems.push(
        `memory at ${Math.round((report.usedMemory / report.maxMemory) * 100)}% of maxmemory`,
      )
    if (kind === 'master' && info.role !== 'master')
      report.problems.push(`expected a master, is a ${info.role}`)
    if (info.role === 'master') {
      report.replication = {
        connectedReplicas: Number(info.connected_slaves ?? 0),
        offset: Number(info.master_repl_offset ?? 0),
      }
    } else if (info.role === 'slave') {
      report.replication = {
        master: `${info.master_host}:${info.master_port}`,
        link: info.master_link_status ?? 'unknown',
        offset: Number(info.slave_repl_offset ?? 0),
      }
      if (info.master_link_status !== 'up')
        report.problems.push(`replication link ${info.master_link_status}`)
    }
    return report
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'E_UNAVAILABLE'
    return {
      address,
      kind,
      ok: false,
      latencyMs: performance.now() - start,
      problems: [`unreachable (${code})`],
      error: code,
    }
  }
}

/** The replicas a master lists in INFO replication (`slave0:ip=…,port=…,state=online,offset=…,lag=…`). */
function replicasOf(
  info: Record<string, string> | undefined,
): { address: string; offset: number; state: string }[] {
  if (!info) return []
  const out: { address: string; offset: number; state: string }[] = []
  for (const [k, v] of Object.entries(info)) {
    if (!/^slave\d+$/.test(k)) continue
    const f = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]))
    if (f.ip && f.port)
      out.push({ address: `${f.ip}:${f.port}`, offset: Number(f.offset ?? 0), state: f.state ?? 'unknown' })
  }
  return out
}

/** A short-lived plain connection to one node, with the deployment's credentials and TLS. */
async function nodeConnection(conn: Connection, address: string, sentinel: boolean): Promise<Connection> {
  const i = address.lastIndexOf(':')
  const c = conn.config
  const creds = sentinel
    ? { username: c.sentinel?.username, password: c.sentinel?.password }
    : { username: c.username, password: c.password }
  return connect({
    host: address.slice(0, i),
    port: Number(address.slice(i + 1)),
    ...(creds.username ? { username: creds.username } : {}),
    ...(creds.password ? { password: creds.password } : {}),
    tls: c.tls === false ? false : c.tls,
    clientName: 'cache-cli',
    connectTimeout: c.connectTimeoutMs,
    commandTimeout: c.commandTimeoutMs,
    reconnect: { maxAttempts: 1 },
    breaker: false,
  })
}

async function probeAddress(
  conn: Connection,
  address: string,
  kind: NodeReport['kind'],
): Promise<NodeReport & { info?: Record<string, string> }> {
  let node: Connection | undefined
  try {
    node = await nodeConnection(conn, address, kind === 'sentinel')
    const n = node
    return await probe(address, kind, { send: (args) => n.send(args) })
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'E_UNAVAILABLE'
    return { address, kind, ok: false, latencyMs: 0, problems: [`unreachable (${code})`], error: code }
  } finally {
    await node?.close()
  }
}

/** Probes every master (through the connection), every replica they list, and on Sentinel every sentinel. */
export async function health(conn: Connection): Promise<HealthResult> {
  const masters: MasterNode[] = (await conn.masters()).sort((a, b) => a.address.localeCompare(b.address))
  const masterReports = await Promise.all(masters.map((m) => probe(m.address, 'master', m)))
  const replicaReports = await Promise.all(
    masterReports.flatMap((m) =>
      replicasOf(m.info).map(async (r) => {
        const report = await probeAddress(conn, r.address, 'replica')
        const masterOffset = Number(m.replication?.offset ?? 0)
        if (report.replication)
          report.replication.lagBytes = Math.max(0, masterOffset - Number(report.replication.offset ?? 0))
        if (r.state !== 'online') report.problems.push(`replica state ${r.state}`)
        return report
      }),
    ),
  )
  const result: HealthResult = {
    ok: true,
    topology: conn.topology,
    nodes: [...masterReports, ...replicaReports],
  }
  if (conn.topology === 'cluster' && masters[0]) {
    const info = parseInfo(String(await masters[0].send(['CLUSTER', 'INFO'])))
    result.cluster = {
      state: info.cluster_state ?? 'unknown',
      slotsOk: Number(info.cluster_slots_ok ?? 0),
      knownNodes: Number(info.cluster_known_nodes ?? 0),
    }
  }
  if (conn.topology === 'sentinel' && conn.config.sentinel) {
    const { name, sentinels } = conn.config.sentinel
    const reports = await Promise.all(
      sentinels.map((s) => probeAddress(conn, `${s.host}:${s.port}`, 'sentinel')),
    )
    const reachable = reports.find((r) => r.ok)
    if (reachable) {
      let node: Connection | undefined
      try {
        node = await nodeConnection(conn, reachable.address, true)
        const flat = (await node.send<string[]>(['SENTINEL', 'MASTER', name])).map(String)
        const m: Record<string, string> = {}
        for (let i = 0; i + 1 < flat.length; i += 2) m[flat[i]!] = flat[i + 1]!
        result.sentinel = {
          name,
          master: `${m.ip}:${m.port}`,
          quorum: Number(m.quorum ?? 0),
          flags: m.flags ?? '',
        }
        if (Number(m['num-other-sentinels'] ?? 0) + 1 < Number(m.quorum ?? 0))
          reachable.problems.push(`fewer sentinels than the quorum ${m.quorum}`)
      } finally {
        await node?.close()
      }
    }
    result.nodes.push(...reports)
  }
  for (const n of result.nodes) {
    delete (n as { info?: unknown }).info
    if (n.problems.length > 0) n.ok = false
  }
  result.ok =
    result.nodes.every((n) => n.ok) &&
    (result.cluster === undefined || result.cluster.state === 'ok') &&
    (result.sentinel === undefined || !/down/.test(result.sentinel.flags))
  return result
}

export const healthCommand: Command = {
  name: 'health',
  summary: 'every node: role, version, latency, memory, replication (Cluster and Sentinel aware)',
  usage: 'health',
  flags: {},
  async run({ conn, out }) {
    const r = await health(conn)
    out.result(r, () => {
      const rows: (string | number)[][] = [
        ['NODE', 'KIND', 'ROLE', 'VERSION', 'LATENCY', 'MEMORY', 'REPLICATION', 'STATUS'],
      ]
      for (const n of r.nodes) {
        const repl = n.replication
          ? Object.entries(n.replication)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')
          : ''
        const mem =
          n.usedMemory === undefined
            ? ''
            : `${formatBytes(n.usedMemory)}${n.maxMemory ? ` / ${formatBytes(n.maxMemory)}` : ''}`
        rows.push([
          n.address,
          n.kind,
          n.role ?? '-',
          n.version ?? '-',
          formatMs(n.latencyMs),
          mem,
          repl,
          n.ok ? out.status(true) : out.status(false, n.problems.join('; ')),
        ])
      }
      const lines = [`topology: ${r.topology}`]
      if (r.cluster)
        lines.push(
          `cluster: state ${r.cluster.state}, ${r.cluster.slotsOk} slots ok, ${r.cluster.knownNodes} nodes`,
        )
      if (r.sentinel)
        lines.push(
          `sentinel: ${r.sentinel.name} at ${r.sentinel.master}, quorum ${r.sentinel.quorum}, flags ${r.sentinel.flags}`,
        )
      lines.push(table(rows), r.ok ? out.style('green', 'healthy') : out.style('red', 'PROBLEMS FOUND'))
      return lines.join('\n')
    })
    return r.ok ? EXIT.OK : EXIT.PROBLEM
  },
}
