/** Parsers of stream command replies, for RESP2 (arrays) and RESP3 (maps) alike. */

/** One stream entry: its id and its field/value list. */
export interface RawEntry {
  id: string
  fields: string[]
}

function str(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

/** Field/value pairs of an entry (an array in both protocols; a map if a caller mapped it). */
function fieldList(value: unknown): string[] {
  if (Array.isArray(value))
    return value.every((v) => typeof v === 'string') ? (value as string[]) : value.map(str)
  if (value instanceof Map) return [...value.entries()].flatMap(([k, v]) => [str(k), str(v)])
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, str(v)])
  return []
}

/** Entries of an XRANGE / XREVRANGE reply. Entries deleted from the stream (nil fields) are skipped. */
export function parseEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply)) return []
  const out: RawEntry[] = []
  for (const item of reply) {
    if (!Array.isArray(item) || item[0] == null || item[1] == null) continue
    out.push({ id: str(item[0]), fields: fieldList(item[1]) })
  }
  return out
}

/** Entries of an XREAD / XREADGROUP reply for one stream: `[[key, entries]]` (RESP2) or `{ key: entries }` (RESP3). */
export function parseReadReply(reply: unknown): RawEntry[] {
  if (reply == null) return []
  if (Array.isArray(reply)) return reply.flatMap((s) => (Array.isArray(s) ? parseEntries(s[1]) : []))
  if (reply instanceof Map) return [...reply.values()].flatMap(parseEntries)
  if (typeof reply === 'object') return Object.values(reply).flatMap(parseEntries)
  return []
}

/** The value of a field in a field/value list. */
export function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

/** Summary of XPENDING key group. */
export interface PendingSummary {
  count: number
  minId: string | undefined
  maxId: string | undefined
  consumers: Array<{ name: string; pending: number }>
}

/** Parses the summary form of XPENDING. */
export function parsePendingSummary(reply: unknown): PendingSummary {
  const r = Array.isArray(reply) ? reply : []
  const consumers = Array.isArray(r[3])
    ? (r[3] as unknown[]).map((c) => {
        const pair = Array.isArray(c) ? c : []
        return { name: str(pair[0]), pending: Number(str(pair[1])) }
      })
    : []
  return {
    count: Number(r[0] ?? 0),
    minId: r[1] == null ? undefined : str(r[1]),
    maxId: r[2] == null ? undefined : str(r[2]),
    consumers,
  }
}

/** One pending entry (XPENDING extended form). */
export interface PendingEntry {
  id: string
  consumer: string
  idleMs: number
  deliveries: number
}

/** Parses the extended form of XPENDING. */
export function parsePendingEntries(reply: unknown): PendingEntry[] {
  if (!Array.isArray(reply)) return []
  return reply.filter(Array.isArray).map((e) => ({
    id: str(e[0]),
    consumer: str(e[1]),
    idleMs: Number(e[2]),
    deliveries: Number(e[3]),
  }))
}

/** Parses the reply of claim.lua. */
export function parseClaimReply(reply: unknown): {
  cursor: string
  entries: Array<RawEntry & { deliveries: number }>
  dead: number
} {
  const r = Array.isArray(reply) ? reply : []
  const entries = Array.isArray(r[1])
    ? (r[1] as unknown[]).filter(Array.isArray).map((e) => ({
        id: str(e[0]),
        deliveries: Number(e[1]),
        fields: fieldList(e[2]),
      }))
    : []
  return { cursor: r[0] == null ? '0-0' : str(r[0]), entries, dead: Number(r[2] ?? 0) }
}
