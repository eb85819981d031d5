import { type Connection, escapeGlob, KeyBuilder } from '@cache/client'
import { CacheKeys, decode, parseHistoryEntry } from '@cache/core'
import type { Command } from '../command.js'
import { stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { readHeader, type ValueHeader } from '../header.js'
import { formatBytes, formatMs, table } from '../output.js'
import { RESUME_FLAGS, resumeFlags, resumeUsage, scanEveryMaster } from '../scan.js'

/** The result of `cache inspect`. */
export interface InspectResult {
  key: string
  exists: boolean
  type?: string
  /** Milliseconds left; -1 without a TTL. */
  ttlMs?: number
  /** MEMORY USAGE (bytes, with Redis overhead). */
  memory?: number
  encoding?: string
  /** A string value's header: codec format, compression, size, key id when encrypted. */
  header?: ValueHeader
  /** A cache entry (`…:v:{key}`): its cache namespace prefix, user key, tags, versions and dependants. */
  cache?: {
    prefix: string
    key: string
    tags: string[]
    versions: { version: number; createdAt: string }[]
    dependants: number
  }
  /** With --value: the decoded value (plain codec values only). */
  value?: unknown
}

/** A RedisCache value key: `<cache namespace>:v:{<escaped key>}`. */
const VALUE_KEY = /^(.+):v:\{.+\}$/

function decodePart(part: string): string {
  if (part.startsWith('#')) return part
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

/** The CacheKeys of the RedisCache a value key belongs to (core's layout), or undefined when it is not one. */
function cacheKeysOf(key: string): { keys: CacheKeys; part: string } | undefined {
  const ns = VALUE_KEY.exec(key)?.[1]
  if (!ns) return undefined
  let keys: CacheKeys
  try {
    keys = new CacheKeys(new KeyBuilder(ns))
  } catch {
    return undefined // not a namespace @cache could have written
  }
  const part = keys.partOf(key)
  return part === undefined ? undefined : { keys, part }
}

async function tagsOf(conn: Connection, keys: CacheKeys, valueKey: string, rate: number): Promise<string[]> {
  const tags: string[] = []
  // keys.tag('') is `<ns>:t:{}`: every tag index starts with it without the closing brace.
  const start = keys.tag('').slice(0, -1)
  for await (const b of scanEveryMaster(conn, { match: `${escapeGlob(start)}*}`, count: 1000, rate })) {
    const member = await Promise.all(b.keys.map((t) => b.node.send<number>(['SISMEMBER', t, valueKey])))
    b.keys.forEach((t, i) => {
      if (Number(member[i]) === 1) tags.push(decodePart(t.slice(start.length, -1)))
    })
  }
  return tags.sort()
}

/** Reads everything about one key without printing its value (unless asked to). */
export async function inspectKey(
  conn: Connection,
  key: string,
  withValue: boolean,
  /** Keys a second examined by the SCAN of the cache's tag indexes (0: unthrottled). */
  rate = 0,
): Promise<InspectResult> {
  const type = String(await conn.send(['TYPE', key], { key }))
  if (type === 'none') return { key, exists: false }
  const [ttl, memory, encoding] = await Promise.all([
    conn.send<number>(['PTTL', key], { key }),
    conn.send<number | null>(['MEMORY', 'USAGE', key, 'SAMPLES', '0'], { key }),
    conn.send<string>(['OBJECT', 'ENCODING', key], { key }),
  ])
  const r: InspectResult = {
    key,
    exists: true,
    type,
    ttlMs: Number(ttl),
    memory: Number(memory ?? 0),
    encoding: String(encoding),
  }
  if (type === 'string') {
    const bytes = await conn.send<Buffer | null>(['GET', key], { key, buffers: true })
    if (bytes) {
      r.header = readHeader(bytes)
      if (withValue && r.header.kind === 'codec' && r.header.checksumOk) r.value = decode(bytes)
    }
  }
  const entry = cacheKeysOf(key)
  if (entry) {
    const { keys, part } = entry
    const [history, dependants, tags] = await Promise.all([
      conn.send<Buffer[]>(['LRANGE', keys.history(part), '0', '-1'], { key, buffers: true }),
      conn.send<number>(['SCARD', keys.dependants(part)], { key }),
      tagsOf(conn, keys, key, rate),
    ])
    r.cache = {
      prefix: keys.prefix,
      key: decodePart(part),
      tags,
      versions: (history ?? []).flatMap((raw) => {
        const v = parseHistoryEntry(raw)
        return v ? [{ version: v.version, createdAt: new Date(v.createdAt).toISOString() }] : []
      }),
      dependants: Number(dependants),
    }
  }
  return r
}

function describe(r: InspectResult): string {
  if (!r.exists) return `${r.key}: no such key`
  const rows: (string | number)[][] = [
    ['key', r.key],
    ['type', `${r.type} (${r.encoding})`],
    ['ttl', r.ttlMs === -1 ? 'none (persists)' : formatMs(r.ttlMs ?? 0)],
    ['memory', formatBytes(r.memory ?? 0)],
  ]
  const h = r.header
  if (h) {
    rows.push(['size', formatBytes(h.bytes)])
    if (h.kind === 'codec') {
      rows.push([
        'codec',
        `@cache/core v${h.version}: ${h.format}, compression ${h.compression}, checksum ${h.checksumOk ? 'ok' : 'BAD'}`,
      ])
    } else if (h.kind === 'encrypted') {
      rows.push(['codec', `@cache/security AES-256-GCM v${h.version}, key id ${h.keyId ?? '?'}`])
    } else rows.push(['codec', 'not written by an @cache codec'])
    if (h.problem) rows.push(['problem', h.problem])
  }
  if (r.cache) {
    rows.push(['cache', `${r.cache.prefix} key ${JSON.stringify(r.cache.key)}`])
    rows.push(['tags', r.cache.tags.join(', ') || '-'])
    rows.push(['versions', r.cache.versions.map((v) => `v${v.version} ${v.createdAt}`).join(', ') || '-'])
    rows.push(['dependants', r.cache.dependants])
  }
  if ('value' in r) rows.push(['value', JSON.stringify(r.value)])
  return table(rows)
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'what a key holds: codec format, compression, size, TTL, tags, versions, key id if encrypted',
  usage:
    'inspect <key> [--cache NS] [--value] [--rate N]\n\n' +
    '  <key>      the full Redis key (as `cache keys` prints it), or with --cache the cache key\n' +
    '  --cache    the RedisCache namespace (new RedisCache(conn, { namespace })): <key> is then the cache key\n' +
    '  --value    also print the decoded value (plain codec values; never an encrypted one)\n' +
    `${resumeUsage(11, "the SCAN of the cache's tag indexes").split('\n')[0]}`,
  flags: { cache: { type: 'string' }, value: { type: 'boolean' }, rate: RESUME_FLAGS.rate },
  async run({ conn, values, positionals, out }) {
    const arg = positionals[0]
    if (!arg) throw new UsageError('<key>', 'is missing: cache inspect <key>')
    const ns = stringFlag(values, 'cache')
    const key = ns ? new CacheKeys(conn.keys.child(ns)).value(arg) : arg
    const r = await inspectKey(conn, key, values.value === true, resumeFlags(values).rate)
    out.result(r, () => describe(r))
    return r.exists && !r.header?.problem ? EXIT.OK : EXIT.PROBLEM
  },
}
