import { describe, expect, it } from 'vitest'
import { validateNames } from './names.js'

const code = (f: () => void) => {
  try {
    f()
    return 'ok'
  } catch (err) {
    return (err as { code?: string }).code
  }
}

describe('Prometheus naming rules', () => {
  it('accepts conventional names', () => {
    expect(code(() => validateNames('counter', 'http_requests_total', ['route', 'status']))).toBe('ok')
    expect(code(() => validateNames('histogram', 'http_request_duration_seconds', []))).toBe('ok')
    expect(code(() => validateNames('gauge', 'process:heap_bytes', []))).toBe('ok')
  })
  it.each([
    ['counter', 'http_requests', []],
    ['gauge', 'queue_depth_total', []],
    ['histogram', 'latency_milliseconds', []],
    ['counter', 'bytes_kb_total', []],
    ['gauge', '1abc', []],
    ['gauge', 'a-b', []],
    ['gauge', '__reserved', []],
    ['gauge', 42, []],
    ['gauge', 'ok', ['le']],
    ['gauge', 'ok', ['quantile']],
    ['gauge', 'ok', ['a', 'a']],
    ['gauge', 'ok', ['__x']],
    ['gauge', 'ok', ['bad-label']],
    ['gauge', 'ok', [7]],
  ] as const)('%s %s %j → E_INVALID_ARGUMENT', (kind, name, labels) => {
    expect(code(() => validateNames(kind, name, labels))).toBe('E_INVALID_ARGUMENT')
  })
})
