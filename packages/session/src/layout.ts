/**
 * The stored form of a session: one Redis string, so a read is one GET of one value and every write is a
 * plain command (no Lua on the hot path).
 *
 * ```
 * ["s2",gen,createdAt,absoluteDeadline,idleMs,tenant,userId]   header line (clear)
 * {"w":…,"i":…,"s":{…},"m":…,"r":1}                             the body: every field (r = replace)
 * {"w":…,"i":…,"s":{"views":3},"d":["gone"],"u":"u42","l":…}    a change, appended by APPEND
 * ```
 * Lines are separated by "\n" (JSON never holds a raw newline; encrypted chunks are base64). A write
 * appends a chunk with only what changed, so two requests that change different fields never overwrite each
 * other however they interleave (APPEND is atomic and never replaces), and a same-field conflict is decided by
 * the server's order (last writer wins). Chunk keys: w = written at (ms), i = idle timeout from then (ms),
 * s = fields set (their JSON values), d = fields deleted, u = user id from now on, r = drop the fields not in
 * s, m = meta JSON, l = the live-set score written for it. A writer that finds many chunks rewrites the
 * value compacted, by a compare-and-set (session-cas.lua) that moves `gen` up to the version it compacted.
 */
/** What the header line of a session holds. */
export interface Header {
  /** Writes before the body (0, or the version a compaction rewrote): the version is gen + chunks. */
  gen: number
  createdAt: number
  absoluteExpiresAt: number
  idleTimeoutMs: number
  tenant: string
  userId: string
}

/** One chunk of a session value (see the file comment). */
export interface Chunk {
  w?: number
  i?: number
  s?: Record<string, unknown>
  d?: string[]
  u?: string
  r?: 1
  m?: string
  l?: number
}

/** A session value decoded: its header, its fields (values and their JSON), and where its chunks leave it. */
export interface Decoded {
  header: Header
  headerLine: string
  data: Record<string, unknown>
  json: Record<string, string>
  meta: Record<string, unknown>
  metaJson: string
  userId: string
  idleTimeoutMs: number
  lastWriteAt: number
  liveAt: number
  chunks: number
}

/** Chunks past which a writer rewrites the value compacted. */
export const COMPACT_CHUNKS = 8

/** The header line of a new session value. */
export function headerLine(h: Header): string {
  return JSON.stringify(['s2', h.gen, h.createdAt, h.absoluteExpiresAt, h.idleTimeoutMs, h.tenant, h.userId])
}

/** Parses a header line; undefined when it is not one. */
export function parseHeader(line: string): Header | undefined {
  if (!line.startsWith('["s2",')) return undefined
  let a: unknown
  try {
    a = JSON.parse(line)
  } catch {
    return undefined
  }
  if (!Array.isArray(a) || a.length !== 7 || typeof a[5] !== 'string' || typeof a[6] !== 'string')
    return undefined
  const [, gen, createdAt, abs, idle] = a as number[]
  if (![gen, createdAt, abs, idle].every((n) => Number.isFinite(n))) return undefined
  return {
    gen: gen!,
    createdAt: createdAt!,
    absoluteExpiresAt: abs!,
    idleTimeoutMs: idle!,
    tenant: a[5],
    userId: a[6],
  }
}

/**
 * Decodes a session value; `open` turns a stored chunk line into its JSON (decryption). Undefined when the
 * value is not a session (no header, e.g. what an APPEND to a deleted key leaves).
 */
export function decode(value: string, open: (line: string, header: Header) => string): Decoded | undefined {
  const lines = value.split('\n')
  const line0 = lines[0]!
  const header = parseHeader(line0)
  if (!header) return undefined
  const data: Record<string, unknown> = {}
  let metaJson = '{}'
  let userId = header.userId
  let idle = header.idleTimeoutMs
  let lastWriteAt = header.createdAt
  let liveAt = 0
  for (let i = 1; i < lines.length; i++) {
    let c: Chunk
    try {
      c = JSON.parse(open(lines[i]!, header)) as Chunk
    } catch (cause) {
      // A chunk that is not JSON (tampered, or written by something else): no session, as without a header.
      if (cause instanceof SyntaxError) return undefined
      throw cause
    }
    if (c.r === 1) for (const k in data) delete data[k]
    if (c.s) for (const k in c.s) put(data, k, c.s[k])
    if (c.d) for (const k of c.d) delete data[k]
    if (c.u !== undefined) userId = c.u
    if (c.i !== undefined) idle = c.i
    if (c.w !== undefined && c.w > lastWriteAt) lastWriteAt = c.w
    if (c.m !== undefined) metaJson = c.m
    if (c.l !== undefined && c.l > liveAt) liveAt = c.l
  }
  const json: Record<string, string> = {}
  for (const k in data) put(json, k, JSON.stringify(data[k]))
  return {
    header,
    headerLine: line0,
    data,
    json,
    meta: metaJson === '{}' ? {} : (JSON.parse(metaJson) as Record<string, unknown>),
    metaJson,
    userId,
    idleTimeoutMs: idle,
    lastWriteAt,
    liveAt,
    chunks: lines.length - 1,
  }
}

/** Sets a field, `__proto__` included (an assignment would set the object's prototype instead). */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  else o[k] = v
}

/** The session's expiry after a write or touch at `now` with `idleMs`: capped by the absolute deadline. */
export function expiryAt(now: number, idleMs: number, absoluteExpiresAt: number): number {
  return Math.min(now + idleMs, absoluteExpiresAt)
}

/** A chunk with the given JSON fields (their JSON text spliced in as it is, not parsed again). */
export function chunkJson(c: Omit<Chunk, 's'>, set: Record<string, string> | undefined): string {
  let out = JSON.stringify(c)
  if (!set) return out
  let s = ''
  for (const k in set) s += `${s ? ',' : ''}${JSON.stringify(k)}:${set[k]}`
  out = out === '{}' ? `{"s":{${s}}}` : `${out.slice(0, -1)},"s":{${s}}}`
  return out
}

/**
 * A legacy (0.1.x, a Redis hash) session from HGETALL's fields: the nine-field header of 0.1.0 (`~t`, `~u`,
 * `~c`, `~l`, `~i`, `~a`, `~v`, `~L`, `~m`) or the packed one ("~" = version|last|idle|absolute|live|
 * created|tenant|user). Undefined when neither is there.
 */
export function legacyHeader(h: Record<string, string>):
  | {
      tenant: string
      userId: string
      createdAt: number
      lastSeenAt: number
      idleTimeoutMs: number
      absoluteExpiresAt: number
      liveAt: number
    }
  | undefined {
  if (h['~'] !== undefined) {
    const p = h['~'].split('|')
    if (p.length < 8) return undefined
    return {
      lastSeenAt: Number(p[1]),
      idleTimeoutMs: Number(p[2]),
      absoluteExpiresAt: Number(p[3]),
      liveAt: Number(p[4]),
      createdAt: Number(p[5]),
      tenant: p[6]!,
      userId: p.slice(7).join('|'),
    }
  }
  if (h['~t'] === undefined || h['~a'] === undefined) return undefined
  return {
    tenant: h['~t'],
    userId: h['~u'] ?? '',
    createdAt: Number(h['~c']),
    lastSeenAt: Number(h['~l']),
    idleTimeoutMs: Number(h['~i']),
    absoluteExpiresAt: Number(h['~a']),
    liveAt: Number(h['~L'] ?? 0),
  }
}
