/** Estimated heap bytes of a value: a quick walk (depth-limited), close enough to bound a memory cache. */
export function estimateSize(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8
    case 'bigint':
      return 16 + Math.ceil(value.toString(16).length / 2)
    case 'object': {
      if (value === null) return 8
      if (ArrayBuffer.isView(value)) return 64 + value.byteLength
      if (depth > 16) return 64
      let size = 32
      if (Array.isArray(value)) {
        size += 8 * value.length
        for (const item of value) size += estimateSize(item, depth + 1)
      } else if (value instanceof Map) {
        for (const [k, v] of value) size += 16 + estimateSize(k, depth + 1) + estimateSize(v, depth + 1)
      } else if (value instanceof Set) {
        for (const v of value) size += 16 + estimateSize(v, depth + 1)
      } else if (value instanceof Date) {
        size += 8
      } else {
        for (const k in value) {
          size += 16 + k.length * 2 + estimateSize((value as Record<string, unknown>)[k], depth + 1)
        }
      }
      return size
    }
    default:
      return 32
  }
}
