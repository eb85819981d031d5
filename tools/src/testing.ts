import { randomBytes } from 'node:crypto'

/** A key prefix unique to one test, so tests sharing a server never see each other's keys. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(6).toString('hex')}`
}

const CACHE_ERROR = Symbol.for('@cache/error')

/** The code of a CacheError (any copy of @cache/client), or `non-cache:<err>` for anything else. */
function codeFrom(err: unknown): string {
  if (typeof err === 'object' && err !== null && CACHE_ERROR in err)
    return String((err as unknown as { code: unknown }).code)
  return `non-cache:${String(err)}`
}

/**
 * What a promise settles with, as a string for one-line assertions: `'ok'` when it resolves, the `code` when
 * it rejects with a CacheError, `non-cache:<error>` for any other rejection (so a wrong kind of failure shows
 * in the assertion message). `expect(await codeOf(conn.redis.ping())).toBe('E_TIMEOUT')`.
 */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return codeFrom(err)
  }
}

/** `codeOf` for synchronous code: `'ok'` when `fn` returns, else the code of what it throws. */
export function codeOfSync(fn: () => unknown): string {
  try {
    fn()
    return 'ok'
  } catch (err) {
    return codeFrom(err)
  }
}
