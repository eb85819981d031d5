import type { Command } from '../command.js'
import { intFlag } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { formatBytes, formatMs, table } from '../output.js'
import { ResumableScan, resumeFlags } from '../scan.js'
import { SCAN_FLAGS } from './keys.js'

/** One key of `cache bigkeys`. */
export interface BigKey {
  key: string
  type: string
  /** MEMORY USAGE, bytes. */
  bytes: number
  /** -1 without a TTL. */
  ttlMs: number
}

/** Memory of one namespace (the root and `--depth` more key parts, hash tags excluded). */
export interface NamespaceUsage {
  namespace: string
  keys: number
  bytes: number
  /** Keys without a TTL. */
  noTtl: number
}

/** The result of `cache bigkeys`. */
export interface BigKeysResult {
  scanned: number
  bytes: number
  top: BigKey[]
  namespaces: NamespaceUsage[]
  /** Keys without TTL: how many, and the largest of them. */
  noTtl: { count: number; top: BigKey[] }
  cursor: string | null
}

/** `root:app:v:{user%3A1}` -> `root:app` at depth 1: the parts before any hash tag, at most root + depth. */
export function namespaceOf(key: string, root: string, depth: number): string {
  if (!key.startsWith(`${root}:`)) return '(other)'
  const rest = key.slice(root.length + 1).split(':')
  const parts: string[] = []
  for (const p of rest.slice(0, -1)) {
    if (p.startsWith('{') || parts.length >= depth) break
    parts.push(p)
  }
  return parts.length > 0 ? `${root}:${parts.join(':')}` : root
}

/** Keeps the `n` largest of a stream without sorting it all. */
class Top {
  readonly items: BigKey[] = []
  constructor(readonly n: number) {}
  add(k: BigKey): void {
    if (this.items.length < this.n) this.items.push(k)
    else if (k.bytes > this.items[this.items.length - 1]!.bytes) this.items[this.items.length - 1] = k
    else return
    this.items.sort((a, b) => b.bytes - a.bytes)
  }
}

export const bigkeysCommand: Command = {
  name: 'bigkeys',
  summary: 'the largest keys by MEMORY USAGE, memory per namespace, keys without TTL',
  usage:
    'bigkeys [glob] [--top 20] [--depth 1] [--batch 500] [--rate N] [--limit N] [--cursor M:C]\n\n' +
    '  --top      how many of the largest keys to list (and of those without TTL)\n' +
    '  --depth    key parts after the root namespace that name a group (app:v:{…} -> app at depth 1)\n' +
    '  --rate/--limit/--cursor/--batch as for `cache keys`',
  flags: { ...SCAN_FLAGS, top: { type: 'string' }, depth: { type: 'string' } },
  async run({ conn, values, positionals, out, signal }) {
    const match = conn.keys.pattern(positionals[0] ?? '*')
    const n = intFlag(values, 'top', 20, { min: 1, max: 10_000 })
    const depth = intFlag(values, 'depth', 1, { min: 0, max: 16 })
    const limit = intFlag(values, 'limit', 0)
    const root = conn.keys.namespace
    const top = new Top(n)
    const noTtlTop = new Top(n)
    const groups = new Map<string, NamespaceUsage>()
    let scanned = 0
    let bytes = 0
    let noTtl = 0
    const scan = new ResumableScan(conn, {
      match,
      count: intFlag(values, 'batch', 500, { min: 1, max: 100_000 }),
      ...resumeFlags(values),
      signal,
      onProgress: (line) => out.progress(`${line}  ${scanned} keys, ${formatBytes(bytes)}`),
    })
    for await (const b of scan) {
      const facts = await Promise.all(
        b.keys.map((k) =>
          Promise.all([
            b.node.send<number | null>(['MEMORY', 'USAGE', k, 'SAMPLES', '0']),
            b.node.send<number>(['PTTL', k]),
            b.node.send<string>(['TYPE', k]),
          ]),
        ),
      )
      b.keys.forEach((key, i) => {
        const [mem, ttl, type] = facts[i]!
        // A key that expired between SCAN and MEMORY USAGE is gone: skip it.
        if (mem === null || Number(ttl) === -2) return
        const k: BigKey = { key, type: String(type), bytes: Number(mem), ttlMs: Number(ttl) }
        scanned++
        bytes += k.bytes
        top.add(k)
        const ns = namespaceOf(key, root, depth)
        const g = groups.get(ns) ?? { namespace: ns, keys: 0, bytes: 0, noTtl: 0 }
        g.keys++
        g.bytes += k.bytes
        if (k.ttlMs === -1) {
          g.noTtl++
          noTtl++
          noTtlTop.add(k)
        }
        groups.set(ns, g)
      })
      if (limit > 0 && scanned >= limit) break
    }
    const r: BigKeysResult = {
      scanned,
      bytes,
      top: top.items,
      namespaces: [...groups.values()].sort((a, b) => b.bytes - a.bytes),
      noTtl: { count: noTtl, top: noTtlTop.items },
      cursor: scan.cursor,
    }
    out.result(r, () => {
      const ttl = (ms: number) => (ms === -1 ? out.style('yellow', 'none') : formatMs(ms))
      const lines = [
        `${scanned} keys, ${formatBytes(bytes)}`,
        '',
        table([
          ['KEY', 'TYPE', 'MEMORY', 'TTL'],
          ...r.top.map((k) => [k.key, k.type, formatBytes(k.bytes), ttl(k.ttlMs)]),
        ]),
        '',
        table([
          ['NAMESPACE', 'KEYS', 'MEMORY', 'NO TTL'],
          ...r.namespaces.map((g) => [g.namespace, g.keys, formatBytes(g.bytes), g.noTtl]),
        ]),
        '',
        `${noTtl} keys without TTL${
          noTtl > 0
            ? `; largest: ${r.noTtl.top
                .slice(0, 5)
                .map((k) => `${k.key} (${formatBytes(k.bytes)})`)
                .join(', ')}`
            : ''
        }`,
      ]
      if (r.cursor) lines.push(`stopped early: resume with --cursor ${r.cursor}`)
      return lines.join('\n')
    })
    return EXIT.OK
  },
}
