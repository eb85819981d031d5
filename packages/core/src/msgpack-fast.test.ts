import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { packPlain } from './msgpack-fast.js'

// The codec's own msgpackr settings: what packPlain writes must read back as msgpackr's bytes do.
const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'auto' } as never)
const viaFast = (v: unknown) => {
  const framed = packPlain(v, 3)
  return framed === undefined ? undefined : packr.unpack(framed.subarray(3))
}
const viaMsgpackr = (v: unknown) => packr.unpack(packr.pack(v))
const lone = (s: string) => !(s as unknown as { isWellFormed(): boolean }).isWellFormed()
const hasLoneSurrogate = (v: unknown): boolean =>
  typeof v === 'string'
    ? lone(v)
    : v !== null && typeof v === 'object'
      ? Object.entries(v).some(([k, x]) => lone(k) || hasLoneSurrogate(x))
      : false

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('é', '€', '😀', 'a'), minLength: 28, maxLength: 90 }),
)
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.double(),
    fc.integer(),
    fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(text, tie('value'), { maxKeys: 20, noNullPrototype: true }),
  ),
})).value

describe('packPlain', () => {
  it('writes plain data that msgpackr decodes to what its own bytes decode to', () => {
    fc.assert(
      fc.property(plain, (v) => {
        // Lone surrogates go to msgpackr (undefined here); everything else must match it exactly.
        if (packPlain(v, 3) === undefined) expect(hasLoneSurrogate(v)).toBe(true)
        else expect(viaFast(v)).toEqual(viaMsgpackr(v))
      }),
      { numRuns: 500 },
    )
  })

  it('matches msgpackr at every header and number boundary', () => {
    const values: unknown[] = [
      0,
      -0,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
      -(2 ** 31) - 1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.MAX_SAFE_INTEGER,
    ]
    for (const n of [31, 32, 255, 256, 65535, 65536]) {
      values.push('a'.repeat(n), 'é'.repeat(n), `${'a'.repeat(n - 1)}€`, '😀'.repeat(n >> 1))
    }
    for (const n of [15, 16, 65535, 65536]) values.push(Array.from({ length: n }, (_, i) => i))
    for (const n of [15, 16, 65535])
      values.push(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))
    for (const v of values) expect(viaFast(v)).toEqual(viaMsgpackr(v))
  })

  it('leaves everything but plain data to msgpackr', () => {
    const deep: unknown[] = []
    let cur = deep
    for (let i = 0; i < 100; i++) {
      const next: unknown[] = []
      cur.push(next)
      cur = next
    }
    class Point {
      x = 1
    }
    for (const v of [
      new Date(0),
      new Map([[1, 2]]),
      new Set([1]),
      new Uint8Array([1, 2]),
      10n,
      { a: undefined },
      [undefined],
      { f: () => 1 },
      new Point(),
      Object.create(null),
      // msgpackr refuses objects of 65,536+ keys (E_ENCODE): still its call.
      Object.fromEntries(Array.from({ length: 65536 }, (_, i) => [`k${i}`, i])),
      'lone \ud800 surrogate',
      { 'lone \udc00 key': 1 },
      deep,
    ])
      expect(packPlain(v, 0)).toBeUndefined()
  })

  it('keeps the header bytes free and returns a buffer of its own', () => {
    const a = packPlain({ id: 1 }, 6) as Buffer
    const b = packPlain({ id: 2 }, 6) as Buffer
    expect(a.length).toBe(6 + 5)
    expect(packr.unpack(a.subarray(6))).toEqual({ id: 1 })
    expect(packr.unpack(b.subarray(6))).toEqual({ id: 2 })
    expect(a.buffer === b.buffer && a.byteOffset === b.byteOffset).toBe(false)
  })

  it('writes many distinct keys correctly beyond the key cache bound', () => {
    for (let i = 0; i < 5000; i += 7) {
      const v = { [`dynamic-key-${i}`]: i, [`é-${i}`]: [i] }
      expect(viaFast(v)).toEqual(v)
    }
  })

  it('writes runs of objects sharing keys, and key sets changing midway, order or length, as msgpackr does', () => {
    const long = 'k'.repeat(100)
    const items: unknown[] = [
      { n: 1, text: 'a', list: [1] },
      { n: 2, text: 'b', list: [2] },
      { n: 3, text: 'c', other: [3] },
      { text: 'd', n: 4, list: [4] },
      { n: 5, text: 'e' },
      { n: 6, text: 'f', list: [6], more: { n: 7 } },
      { 2: 'two', 1: 'one', x: 1 },
      { 2: 'two', 1: 'one', x: 2 },
      { [long]: 1, n: 8 },
      { [long]: 2, n: 9 },
      {},
    ]
    for (let round = 0; round < 3; round++) {
      expect(viaFast(items)).toEqual(viaMsgpackr(items))
      for (const v of items) expect(viaFast({ wrap: v })).toEqual(viaMsgpackr({ wrap: v }))
    }
  })

  it('grows its scratch buffer for large values', () => {
    const v = { big: 'x'.repeat(3 * 1024 * 1024), list: Array.from({ length: 1000 }, (_, i) => `item ${i}`) }
    expect(viaFast(v)).toEqual(v)
    expect(viaFast({ small: 1 })).toEqual({ small: 1 })
  })
})
