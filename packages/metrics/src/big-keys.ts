import { type Connection, InvalidArgumentError, sleep, toCacheError } from '@cache/client'

const PKG = '@cache/metrics'

/** A BullMQ key (@cache/queue `ns:queue:…`, or BullMQ's default `bull:…`): such keys must never be evicted. */
export const QUEUE_KEY =
  /(^|:)(bull|queue)(:\{[^}]*\})?:[^:]+:(meta|id|wait|paused|active|delayed|prioritized|completed|failed|events|stalled-check|marker)$/

/** One sampled key. */
export interface KeySample {
  key: string
  /** MEMORY USAGE in bytes (null when the server refused MEMORY USAGE). */
  bytes: number | null
  type: string
  /** Remaining TTL in ms; -1 without TTL. */
  ttlMs: number
  node: string
}

/** Progress of a `bigKeys()` run, after each SCAN batch. */
export interface BigKeysProgress {
  node: string
  scanned: number
  sampled: number
  /** Masters finished / masters in all. */
  nodesDone: number
  nodes: number
}

/** Options of `metrics.bigKeys()`. */
export interface BigKeysOptions {
  /** Only keys of this namespace under the connection's (e.g. 'cache'); default every key of the connection's namespace. */
  namespace?: string
  /** A raw SCAN MATCH pattern instead (e.g. '*' for the whole server). */
  match?: string
  /** Keys to sample in all, spread over the masters. @default 10000 */
  sample?: number
  /** How many of the biggest keys to return. @default 20 */
  top?: number
  /** SCAN COUNT per call. @default 200 */
  count?: number
  /** Pause between SCAN batches on a node, so a production server is not hogged. @default 5 */
  pauseMs?: number
  onProgress?: (progress: BigKeysProgress) => void
}

/** The result of `metrics.bigKeys()`. */
export interface BigKeysReport {
  scanned: number
  sampled: number
  /** Sum of MEMORY USAGE over the sample. */
  sampledBytes: number
  /** The biggest sampled keys, largest first. */
  top: KeySample[]
  /** Sampled keys without a TTL. */
  withoutTtl: { count: number; bytes: number; top: KeySample[] }
  /** Sampled bytes and keys by the first key segment after the scanned namespace. */
  byPrefix: Array<{ prefix: string; keys: number; bytes: number }>
  /** Sampled keys that belong to BullMQ queues (QUEUE_KEY). */
  queueKeys: number
  /** Why something is missing (MEMORY USAGE refused by ACL…). */
  notes: string[]
}

function positive(field: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new InvalidArgumentError(PKG, field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  }
  return v
}

/**
 * Samples keys by SCAN on every master (a cursor per master, `pauseMs` between batches) and measures each
 * with MEMORY USAGE, TYPE and PTTL; reports the biggest keys, the keys without TTL and the size by prefix.
 */
export async function bigKeys(conn: Connection, options: BigKeysOptions = {}): Promise<BigKeysReport> {
  const sample = positive('sample', options.sample, 10_000)
  const topN = positive('top', options.top, 20)
  const count = positive('count', options.count, 200)
  const pauseMs = positive('pauseMs', options.pauseMs, 5, 0)
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidArgumentError(PKG, 'onProgress', 'must be a function')
  }
  if (options.match !== undefined && typeof options.match !== 'string') {
    throw new InvalidArgumentError(PKG, 'match', 'must be a SCAN pattern')
  }
  const scope = options.namespace ? conn.keys.child(options.namespace) : conn.keys
  const match = options.match ?? scope.pattern('*')
  const prefixLength = options.match ? 0 : scope.prefix.length
  const masters = await conn.masters()
  const perNode = Math.max(1, Math.ceil(sample / masters.length))
  const notes = new Set<string>()
  const samples: KeySample[] = []
  let scanned = 0
  let nodesDone = 0
  await Promise.all(
    masters.map(async (node) => {
      let cursor = '0'
      let taken = 0
      let memoryRefused = false
      do {
        const [next, keys] = await node.send<[string, string[]]>([
          'SCAN',
          cursor,
          'MATCH',
          match,
          'COUNT',
          String(count),
        ])
        cursor = String(next)
        scanned += keys.length
        const batch = keys.slice(0, perNode - taken)
        taken += batch.length
        const measured = await Promise.all(
          batch.map(async (key): Promise<KeySample> => {
            const [type, ttl] = await Promise.all([
              node.send<string>(['TYPE', key]),
              node.send<number>(['PTTL', key]),
            ])
            let bytes: number | null = null
            if (!memoryRefused) {
              try {
                const r = await node.send<number | null>(['MEMORY', 'USAGE', key, 'SAMPLES', '5'])
                bytes = r === null ? null : Number(r)
              } catch (err) {
                memoryRefused = true
                notes.add(
                  `MEMORY USAGE: ${toCacheError(err, 'MEMORY').message.replace(/^\[[^\]]+\]\s*/, '')}`,
                )
              }
            }
            return {
              key,
              bytes,
              type: String(type),
              ttlMs: Number(ttl) < 0 ? -1 : Number(ttl),
              node: node.address,
            }
          }),
        )
        // A key that expired between SCAN and TYPE is gone: not counted.
        for (const s of measured) if (s.type !== 'none') samples.push(s)
        options.onProgress?.({
          node: node.address,
          scanned,
          sampled: samples.length,
          nodesDone,
          nodes: masters.length,
        })
        if (cursor !== '0' && taken < perNode && pauseMs > 0) await sleep(pauseMs)
      } while (cursor !== '0' && taken < perNode)
      nodesDone++
      options.onProgress?.({
        node: node.address,
        scanned,
        sampled: samples.length,
        nodesDone,
        nodes: masters.length,
      })
    }),
  )
  const size = (s: KeySample) => s.bytes ?? 0
  const bySize = [...samples].sort((a, b) => size(b) - size(a))
  const noTtl = bySize.filter((s) => s.ttlMs === -1)
  const prefixes = new Map<string, { keys: number; bytes: number }>()
  for (const s of samples) {
    const rest = s.key.slice(prefixLength)
    const cut = rest.search(/[:{]/)
    const prefix = cut > 0 ? rest.slice(0, cut) : rest.startsWith('{') ? '{…}' : rest
    const p = prefixes.get(prefix) ?? { keys: 0, bytes: 0 }
    p.keys++
    p.bytes += size(s)
    prefixes.set(prefix, p)
  }
  return {
    scanned,
    sampled: samples.length,
    sampledBytes: samples.reduce((a, s) => a + size(s), 0),
    top: bySize.slice(0, topN),
    withoutTtl: {
      count: noTtl.length,
      bytes: noTtl.reduce((a, s) => a + size(s), 0),
      top: noTtl.slice(0, topN),
    },
    byPrefix: [...prefixes.entries()]
      .map(([prefix, v]) => ({ prefix, ...v }))
      .sort((a, b) => b.bytes - a.bytes || b.keys - a.keys)
      .slice(0, 50),
    queueKeys: samples.filter((s) => QUEUE_KEY.test(s.key)).length,
    notes: [...notes],
  }
}
