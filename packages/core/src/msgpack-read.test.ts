import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { packPlain } from './msgpack-fast.js'
import { PLAIN_BAIL, unpackPlain } from './msgpack-read.js'

// The codec's own msgpackr settings: unpackPlain must give what this unpacker gives, or leave it to it.
const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'auto' } as never)
const viaMsgpackr = (b: Buffer): { value: unknown } | { error: true } => {
  try {
    return { value: packr.unpack(b) }
  } catch {
    return { error: true }
  }
}
const viaPlain = (b: Buffer) => unpackPlain(b, 0, b.length)

// Strings around every header boundary (fixstr 31, str8 255, str16) and the UTF-8 cases the reader treats
// apart: ASCII below and above 8 bytes, multi-byte, a real U+FFFD, lone surrogates.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('é', '€', '😀', 'a', '\uFFFD', '\ud800'), maxLength: 90 }),
  fc.string({ unit: fc.constantFrom('x', 'y', '0'), minLength: 25, maxLength: 300 }),
)
// Integers at the 8/16/32-bit edges (msgpackr writes beyond 32 bits as 64-bit integers or float64).
const edge = fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, -129, -128, -33, -32, 255, 65_535)
const scalar = fc.oneof(
  text,
  fc.double(),
  fc.integer(),
  edge,
  fc.maxSafeInteger(),
  fc.constantFrom(null, true, false),
)
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(text, tie('value'), { maxKeys: 20, noNullPrototype: true }),
  ),
})).value
// What msgpackr writes besides plain data: extensions, bin, 64-bit integers, Maps with any keys.
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.date({ noInvalidDate: true }),
    fc.bigInt(),
    fc.uint8Array({ maxLength: 40 }),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 8 }),
    fc.dictionary(text, tie('value'), { maxKeys: 8, noNullPrototype: true }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((e) => new Map(e)),
    fc.array(scalar, { maxLength: 4 }).map((e) => new Set(e)),
  ),
})).value

/** Either unpackPlain leaves the bytes to msgpackr, or it gives exactly msgpackr's value. */
function sameAsMsgpackr(bytes: Buffer): void {
  const ours = viaPlain(bytes)
  if (ours === PLAIN_BAIL) return
  const theirs = viaMsgpackr(bytes)
  expect(theirs).toStrictEqual({ value: ours })
}

describe('unpackPlain', () => {
  it('reads what packPlain and msgpackr write for plain data as msgpackr does, without bailing on well-formed text', () => {
    fc.assert(
      fc.property(plain, (v) => {
        const framed = packPlain(v, 0)
        sameAsMsgpackr(packr.pack(v))
        if (framed === undefined) return
        sameAsMsgpackr(framed)
        // Our writer's bytes take the fast path unless a string holds a U+FFFD (left to msgpackr's reading).
        if (!JSON.stringify(v).includes('\uFFFD') && !JSON.stringify(v).includes('"__proto__"'))
          expect(viaPlain(framed)).not.toBe(PLAIN_BAIL)
      }),
      { numRuns: 500 },
    )
  })

  it('gives msgpackr’s value or bails for anything msgpackr writes', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        sameAsMsgpackr(packr.pack(v))
      }),
      { numRuns: 500 },
    )
  })

  it('bails wherever msgpackr fails: random, truncated and trailing bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => sameAsMsgpackr(Buffer.from(b))),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(plain, fc.nat(), (v, cut) => {
        const bytes = packr.pack(v)
        sameAsMsgpackr(bytes.subarray(0, cut % (bytes.length + 1)))
        sameAsMsgpackr(Buffer.concat([bytes, Buffer.of(0xc0)]))
      }),
      { numRuns: 500 },
    )
  })

  it('leaves __proto__ keys, 64-bit integers, float32, bin and extensions to msgpackr', () => {
    const cases = [
      Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01]),
      Buffer.from([0xcf, 0, 0, 0, 0, 0, 0, 0, 1]),
      Buffer.from([0xd3, 0, 0, 0, 0, 0, 0, 0, 1]),
      Buffer.from([0xca, 0x3f, 0x80, 0, 0]),
      Buffer.from([0xc4, 1, 7]),
      packr.pack(new Date(0)),
      packr.pack(new Map([[1, 2]])),
      Buffer.from([0x81, 0x01, 0x02]),
    ]
    for (const b of cases) expect(viaPlain(b)).toBe(PLAIN_BAIL)
    expect(packr.unpack(cases[0] as Buffer)).toEqual({ __proto_: 1 })
  })

  it('reads a value in the middle of a larger buffer, and the same key bytes again from the key cache', () => {
    const v = {
      id: 42,
      name: 'Ada Lovelace',
      tags: ['a', 'b'],
      nested: { id: -1, n: 1.5, ok: true, no: null },
    }
    const bytes = packr.pack(v)
    const wide = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([4, 5])])
    expect(unpackPlain(wide, 3, 3 + bytes.length)).toStrictEqual(v)
    expect(unpackPlain(wide, 3, 3 + bytes.length)).toStrictEqual(v)
    // Same length and first/last bytes as a cached key, different middle: not confused.
    expect(viaPlain(packr.pack({ abcd: 1, axyd: 2 }))).toStrictEqual({ abcd: 1, axyd: 2 })
  })

  it('reads repeated key sets (shapes) as msgpackr does: a shared first key, a key set changing midway, keys sharing their ends', () => {
    const fields: Record<string, unknown> = {}
    for (let i = 0; i < 300; i++) fields[`field${i}`] = { n: i * 1.5, text: `value ${i}`, list: [i] }
    const wide = Object.fromEntries(Object.entries(fields).slice(0, 200))
    const values: unknown[] = [
      fields,
      wide,
      // The same key set but for one key in the middle.
      Object.fromEntries(Object.entries(wide).map(([k, v]) => [k === 'field100' ? 'other' : k, v])),
      { kind: 'a', x: 1, y: 2 },
      { kind: 'a', x: 1, z: 2 },
      { kind: 'b', y: [{ kind: 'a', x: 3, y: 4 }], x: null },
      { kind: 'c' },
      { kind: 'a', x: 1 },
      { kind: 'a', x: 1, y: 2, z: 3 },
      // Integer-like keys: an object literal would enumerate them first, as keyed stores do.
      { first: 1, 2: 'two', 1: 'one' },
    ]
    for (let round = 0; round < 4; round++) {
      for (const v of [...values].reverse()) {
        const bytes = packPlain(v, 0) as Buffer
        const ours = viaPlain(bytes)
        expect(ours).toStrictEqual(packr.unpack(bytes))
        expect(Object.keys(ours as object)).toStrictEqual(Object.keys(packr.unpack(bytes)))
      }
    }
  })

  it('reads a repeated key as msgpackr does (the last value wins) however often the map is seen', () => {
    // {dup: 1, dup: 2, end: 3}: no writer of plain objects produces it, but bytes can hold it.
    const key = (k: string) => [0xa0 | k.length, ...Buffer.from(k)]
    const bytes = Buffer.from([0x83, ...key('dup'), 1, ...key('dup'), 2, ...key('end'), 3])
    for (let round = 0; round < 4; round++) expect(viaPlain(bytes)).toStrictEqual(packr.unpack(bytes))
  })
})
