import { REDACTED } from './defaults.js'

/** Field names whose values are secrets or cached data (compared case-insensitively, `-`/`_` ignored). */
const SECRET_NAME =
  /^(password|passwd|pwd|pass|secret|secrets|token|accesstoken|refreshtoken|idtoken|apikey|authorization|auth|cookie|setcookie|credentials?|privatekey|key|keys|keymaterial|value|values|data|plaintext|session|sessionid|otp|code)$|(password|secret|token|apikey|privatekey)$/
/** `scheme://user:password@host` — the password part. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]*)@/gi
/** `Bearer xyz`, `Basic xyz` in strings. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g

function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.toLowerCase().replace(/[-_]/g, ''))
}

function redactString(s: string): string {
  return s.replace(URL_CREDENTIALS, `$1:${REDACTED}@`).replace(AUTH_SCHEME, `$1 ${REDACTED}`)
}

function walk(value: unknown, seen: WeakMap<object, unknown>, depth: number): unknown {
  if (typeof value === 'string') return redactString(value)
  if (typeof value !== 'object' || value === null) return value
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return REDACTED
  if (seen.has(value)) return seen.get(value)
  if (depth > 32) return '[truncated]'
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) }
    seen.set(value, out)
    for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? REDACTED : walk(v, seen, depth + 1)
    if (value.cause !== undefined) out.cause = walk(value.cause, seen, depth + 1)
    return out
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>()
    seen.set(value, out)
    for (const [k, v] of value)
      out.set(k, typeof k === 'string' && isSecretName(k) ? REDACTED : walk(v, seen, depth + 1))
    return out
  }
  if (value instanceof Set) {
    const out = new Set<unknown>()
    seen.set(value, out)
    for (const v of value) out.add(walk(v, seen, depth + 1))
    return out
  }
  if (value instanceof Date) return value
  if (value instanceof URL) return redactString(value.href)
  if (Array.isArray(value)) {
    const out: unknown[] = []
    seen.set(value, out)
    for (const v of value) out.push(walk(v, seen, depth + 1))
    return out
  }
  const out: Record<string, unknown> = {}
  seen.set(value, out)
  for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? REDACTED : walk(v, seen, depth + 1)
  return out
}

/**
 * A copy of `input` safe to log: fields named like secrets or cached data (password, token, key, value,
 * cookie, authorization …) become `'[redacted]'`, as do bytes, URL passwords (`redis://u:[redacted]@h`) and
 * Bearer/Basic credentials in strings. Cycles are kept; the input is not modified.
 *
 * @example
 * console.log(redact({ url: 'redis://app:s3cret@db:6379', password: 'x' }))
 */
export function redact<T>(input: T): T {
  return walk(input, new WeakMap(), 0) as T
}
