import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type MetricDefinition, seriesOf } from './instruments.js'

const def = (labels: string[]): MetricDefinition => ({ kind: 'counter', name: 'x_total', help: 'x', labels })

describe('seriesOf', () => {
  it('is JSON.stringify of the values in definition order, for any values (the stored series format)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.integer(), fc.boolean()), {
          maxLength: 4,
        }),
        (values) => {
          const names = values.map((_, i) => `l${i}`)
          const labels = Object.fromEntries(values.map((v, i) => [`l${i}`, v]))
          return seriesOf(def(names), labels) === JSON.stringify(values.map(String))
        },
      ),
      { numRuns: 300 },
    )
  }, 30_000)

  it('missing labels are empty, unknown labels are E_INVALID_ARGUMENT', () => {
    expect(seriesOf(def(['a', 'b']), { b: 'x' })).toBe('["","x"]')
    expect(seriesOf(def(['a']), { a: undefined as unknown as string })).toBe('[""]')
    expect(seriesOf(def([]), undefined)).toBe('[]')
    expect(() => seriesOf(def(['a']), { a: '1', c: '2' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    )
    expect(() => seriesOf(def([]), { c: '2' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    )
  })
})
