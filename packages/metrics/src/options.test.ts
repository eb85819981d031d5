import { describe, expect, it } from 'vitest'
import { resolveOptions } from './options.js'

const code = (f: () => void) => {
  try {
    f()
    return 'ok'
  } catch (err) {
    return (err as { code?: string }).code
  }
}

describe('options', () => {
  it('defaults: 10s/1m/1h resolutions, 5s flush, the given id', () => {
    const o = resolveOptions(undefined, 'me')
    expect(o.resolutions.map((r) => r.widthMs)).toEqual([10_000, 60_000, 3_600_000])
    expect(o.resolutions[0]!.retentionMs).toBe(86_400_000)
    expect(o.flushIntervalMs).toBe(5000)
    expect(o.id).toBe('me')
    expect(o.namespace).toBe('metrics')
    expect(Object.isFrozen(o)).toBe(true)
  })
  it('sorts resolutions by width', () => {
    const o = resolveOptions({ resolutions: { '1m': '1h', '10s': 60_000 } }, 'x')
    expect(o.resolutions).toEqual([
      { widthMs: 10_000, retentionMs: 60_000 },
      { widthMs: 60_000, retentionMs: 3_600_000 },
    ])
  })
  it.each([
    { resolutions: {} },
    { resolutions: { nope: '1d' } },
    { resolutions: { '500ms': '1d' } },
    { resolutions: { '10s': '5s' } },
    { resolutions: { '10s': '1d', '15s': '1d' } },
    { resolutions: { '10s': 'x' } },
    { flushInterval: 1 },
    { namespace: 'a b' },
    { maxSeries: 0 },
    { clock: 5 },
    { prefix: 'x' },
  ])('%j → E_INVALID_OPTION', (input) => {
    expect(code(() => resolveOptions(input as never, 'x'))).toBe('E_INVALID_OPTION')
  })
})
