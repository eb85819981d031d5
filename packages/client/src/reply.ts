/**
 * Normalises an HGETALL reply to a record, whatever the protocol: RESP2 answers a flat array
 * `[field, value, field, value, …]`, RESP3 a map (an object, or a `Map` when the client is configured so).
 * Fields and values keep their type (strings, or Buffers with `buffers: true`; fields become strings).
 * An empty or missing hash (`[]`, `{}`, null) gives `{}`.
 */
export function hgetallRecord<V = string>(reply: unknown): Record<string, V> {
  const out: Record<string, V> = {}
  if (reply === null || reply === undefined) return out
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1] as V
    return out
  }
  if (reply instanceof Map) {
    for (const [k, v] of reply) out[String(k)] = v as V
    return out
  }
  if (typeof reply === 'object') return Object.assign(out, reply as Record<string, V>)
  return out
}
