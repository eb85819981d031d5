import { isCacheError } from '@cache/client'
import { describe, expect, it } from 'vitest'
import { DEFAULT_NAMESPACES } from './defaults.js'
import { resolveOptions } from './options.js'

const conn = { send: async () => null, masters: async () => [] } as never
const metrics = { query: async () => ({}), snapshot: async () => [], server: async () => ({}) } as never

const codeAndField = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    if (isCacheError(err)) return [err.code, (err as { field?: string }).field, err.message]
    throw err
  }
  throw new Error('did not throw')
}

describe('resolveOptions', () => {
  it('defaults every option and freezes the result', () => {
    const o = resolveOptions({ conn, metrics, auth: {} })
    expect(o).toMatchObject({ token: undefined, readOnly: false, actor: 'dashboard', liveIntervalMs: 5000 })
    expect(o.namespaces).toEqual(DEFAULT_NAMESPACES)
    expect(Object.isFrozen(o)).toBe(true)
    expect(
      resolveOptions({ conn, metrics, auth: { token: 'x'.repeat(8) }, liveInterval: '2s' }).liveIntervalMs,
    ).toBe(2000)
  })

  it('refuses bad options with E_INVALID_OPTION naming the field, never echoing the token', () => {
    const [code, field, message] = codeAndField(() =>
      resolveOptions({ conn, metrics, auth: { token: 'short' } }),
    )
    expect([code, field]).toEqual(['E_INVALID_OPTION', 'auth.token'])
    expect(message).toMatch(/^\[@cache\/dashboard\]/)
    expect(message).not.toContain('short')
    expect(codeAndField(() => resolveOptions({ conn: {} as never, metrics, auth: {} }))[1]).toBe('conn')
    expect(codeAndField(() => resolveOptions({ conn, metrics, auth: {}, basePath: 'dash/' }))[1]).toBe(
      'basePath',
    )
    expect(codeAndField(() => resolveOptions({ conn, metrics, auth: {}, liveInterval: 10 }))[1]).toBe(
      'liveInterval',
    )
    expect(
      codeAndField(() => resolveOptions({ conn, metrics, auth: {}, caches: { a: {} as never } }))[1],
    ).toBe('caches.a')
    expect(codeAndField(() => resolveOptions({ conn, metrics, auth: {}, nope: 1 } as never))[1]).toBe('nope')
    expect(codeAndField(() => resolveOptions({ conn, metrics } as never))[1]).toBe('auth')
  })
})
