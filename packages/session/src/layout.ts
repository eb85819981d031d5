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

/**
 * The state a session value leaves once its chunks are replayed: what a merge or a write needs, without the
 * data objects (rebuilt per read from `json`, since callers mutate them). Immutable once made, so it can be
 * kept and extended by the chunks appended since (decodeValue with `prev`).
 */
export interface DecodedValue {
  /** The stored value this state was decoded from. */
  raw: string
  header: Header
  headerLine: string
  /** JSON of each field. */
  json: Record<string, string>
  metaJson: string
  userId: string
  idleTimeoutMs: number
  lastWriteAt: number
  liveAt: number
  chunks: number
}

/** A session value decoded: its header, its fields (values and their JSON), and where its chunks leave it. */
export interface Decoded extends Omit<DecodedValue, 'raw'> {
  data: Record<string, unknown>
  meta: Record<string, unknown>
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
  if (!Number.isFinite(gen) || !Number.isFinite(createdAt) || !Number.isFinite(abs) || !Number.isFinite(idle))
    return undefined
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
  const v = decodeValue(value, open)
  if (!v) return undefined
  const { raw: _, ...rest } = v
  return { ...rest, data: dataOf(v), meta: metaOf(v) }
}

/**
 * The state of a session value (see DecodedValue). With `prev`, the state of an earlier read of the same key:
 * the same value is `prev` itself, a value that extends it by chunks (APPENDs since) replays only those, and
 * anything else (compacted, deleted and made again) is decoded in full. Decoding is a function of the value
 * alone, so this answers what a full decode would.
 */
export function decodeValue(
  value: string,
  open: (line: string, header: Header) => string,
  prev?: DecodedValue,
): DecodedValue | undefined {
  if (prev !== undefined) {
    const n = prev.raw.length
    if (value.length === n) {
      if (value === prev.raw) return prev
    } else if (value.length > n && value.charCodeAt(n) === 10 && value.slice(0, n) === prev.raw) {
      // slice + === compares flat strings with memcmp; startsWith goes character by character.
      return replay(value, value.slice(n + 1).split('\n'), open, prev)
    }
  }
  const lines = value.split('\n')
  const line0 = lines[0]!
  const header = parseHeader(line0)
  if (!header) return undefined
  const start: DecodedValue = {
    raw: value,
    header,
    headerLine: line0,
    json: {},
    metaJson: '{}',
    userId: header.userId,
    idleTimeoutMs: header.idleTimeoutMs,
    lastWriteAt: header.createdAt,
    liveAt: 0,
    chunks: 0,
  }
  return replay(value, lines, open, start, 1)
}

/** `base` with the chunk lines `lines[from..]` applied (a new state; `base` is left as it is). */
function replay(
  value: string,
  lines: string[],
  open: (line: string, header: Header) => string,
  base: DecodedValue,
  from = 0,
): DecodedValue | undefined {
  const header = base.header
  const json: Record<string, string> = from === 0 ? { ...base.json } : base.json
  let { metaJson, userId, idleTimeoutMs: idle, lastWriteAt, liveAt } = base
  for (let i = from; i < lines.length; i++) {
    let c: Chunk
    try {
      c = JSON.parse(open(lines[i]!, header)) as Chunk
    } catch (cause) {
      // A chunk that is not JSON (tampered, or written by something else): no session, as without a header.
      if (cause instanceof SyntaxError) return undefined
      throw cause
    }
    if (c.r === 1) for (const k in json) delete json[k]
    if (c.s) for (const k in c.s) put(json, k, JSON.stringify(c.s[k]))
    if (c.d) for (const k of c.d) delete json[k]
    if (c.u !== undefined) userId = c.u
    if (c.i !== undefined) idle = c.i
    if (c.w !== undefined && c.w > lastWriteAt) lastWriteAt = c.w
    if (c.m !== undefined) metaJson = c.m
    if (c.l !== undefined && c.l > liveAt) liveAt = c.l
  }
  return {
    raw: value,
    header,
    headerLine: base.headerLine,
    json,
    metaJson,
    userId,
    idleTimeoutMs: idle,
    lastWriteAt,
    liveAt,
    chunks: base.chunks + lines.length - from,
  }
}

/**
 * The state a value leaves once the chunk `line` (its parts `c`, its fields' JSON `set`) is appended to `prev`:
 * what decodeValue gives for `${prev.raw}\n${line}`, without parsing back a chunk this process just wrote.
 * `set` must be JSON.stringify output (engine.encode's), which a parse and stringify give back unchanged.
 */
export function appended(
  prev: DecodedValue,
  line: string,
  c: Omit<Chunk, 's'>,
  set: Record<string, string>,
): DecodedValue {
  const json: Record<string, string> = c.r === 1 ? {} : { ...prev.json }
  for (const k in set) put(json, k, set[k])
  if (c.d) for (const k of c.d) delete json[k]
  return {
    raw: `${prev.raw}\n${line}`,
    header: prev.header,
    headerLine: prev.headerLine,
    json,
    metaJson: c.m ?? prev.metaJson,
    userId: c.u ?? prev.userId,
    idleTimeoutMs: c.i ?? prev.idleTimeoutMs,
    lastWriteAt: c.w !== undefined && c.w > prev.lastWriteAt ? c.w : prev.lastWriteAt,
    liveAt: c.l !== undefined && c.l > prev.liveAt ? c.l : prev.liveAt,
    chunks: prev.chunks + 1,
  }
}

/**
 * The state of a value written whole (a compaction): `line0` the header line of `header`, then one chunk that
 * replaces every field with `fields` (written at `w`, meta `metaJson`, live-set score `liveAt`, none when 0);
 * what decodeValue gives for `value`. `fields` as for `appended`.
 */
export function compacted(
  value: string,
  header: Header,
  line0: string,
  fields: Record<string, string>,
  metaJson: string,
  w: number,
  liveAt: number,
): DecodedValue {
  const json: Record<string, string> = {}
  for (const k in fields) put(json, k, fields[k])
  return {
    raw: value,
    header,
    headerLine: line0,
    json,
    metaJson,
    userId: header.userId,
    idleTimeoutMs: header.idleTimeoutMs,
    lastWriteAt: Math.max(header.createdAt, w),
    liveAt,
    chunks: 1,
  }
}

/**
 * A new copy of the data of a decoded value: one `JSON.parse` per field, which costs less than splicing the
 * fields into one text to parse (that text is rebuilt after every change, a rope V8 flattens to parse it).
 */
export function dataOf(v: DecodedValue): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const json = v.json
  for (const k in json) put(out, k, JSON.parse(json[k]!))
  return out
}

/** A new copy of the meta of a decoded value. */
export function metaOf(v: DecodedValue): Record<string, unknown> {
  return v.metaJson === '{}' ? {} : (JSON.parse(v.metaJson) as Record<string, unknown>)
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
