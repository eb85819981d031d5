import { isCacheError } from '@cache/client'
import { codeOfSync } from '@cache/tools'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import {
  CODEC_HEADER_BYTES,
  crc32,
  crc32Portable,
  createCodec,
  decode,
  hasProtoKey,
  readCodecHeader,
} from './codec.js'

const formats = ['msgpack', 'json', 'raw'] as const
// -0 is stored as 0 by both JSON and MessagePack (documented); everything else must round-trip exactly.
const jsonValue = fc
  .jsonValue()
  .filter((v) => v !== undefined)
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown)

describe('codec', () => {
  it('decodes a value that is a view into a larger buffer (as socket replies are), bytes around it ignored', () => {
    for (const codec of [createCodec(), createCodec({ compressThreshold: 0 })]) {
      const value = { id: 7, name: 'é€😀', list: [1, 2, 3], text: 'x'.repeat(200) }
      const encoded = codec.encode(value)
      const big = Buffer.alloc(encoded.length + 64, 0xc1)
      encoded.copy(big, 32)
      const view = big.subarray(32, 32 + encoded.length)
      expect(decode(view)).toEqual(value)
      expect(decode(new Uint8Array(big.buffer, big.byteOffset + 32, encoded.length))).toEqual(value)
      view[view.length - 1] = (view[view.length - 1] as number) ^ 0xff
      expect(codeOfSync(() => decode(view))).toBe('E_DECODE')
    }
  })

  it('round-trips any JSON value through msgpack and json, compressed or not', () => {
    const codecs = [
      createCodec(),
      createCodec({ format: 'json' }),
      createCodec({ compressThreshold: 0 }),
      createCodec({ format: 'json', compressThreshold: false }),
    ]
    fc.assert(
      fc.property(jsonValue, (value) => {
        for (const c of codecs) {
          // MessagePack cannot carry an own "__proto__" key (msgpackr renames it): refused, never altered.
          if (c.format === 'msgpack' && hasProtoKey(value, 0))
            expect(codeOfSync(() => c.encode(value))).toBe('E_ENCODE')
          else expect(c.decode(c.encode(value))).toEqual(value)
        }
      }),
    )
  })

  it('refuses an own "__proto__" key in MessagePack with E_ENCODE instead of storing a renamed key', () => {
    const value = JSON.parse('{"a":[{"__proto__":{"x":1}}],"b":"__proto__"}') as unknown
    expect(codeOfSync(() => createCodec().encode(value))).toBe('E_ENCODE')
    // The string "__proto__" as a value (not a key) is fine, and JSON keeps the key as an own property.
    expect(createCodec().decode(createCodec().encode({ b: '__proto__' }))).toEqual({ b: '__proto__' })
    const json = createCodec({ format: 'json' })
    expect(Object.keys(json.decode(json.encode(value)) as object)).toEqual(['a', 'b'])
    expect(JSON.stringify(json.decode(json.encode(value)))).toBe(JSON.stringify(value))
  })

  it('round-trips strings and bytes through raw', () => {
    const raw = createCodec({ format: 'raw', compressThreshold: 16 })
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array()), (value) => {
        const out = raw.decode(raw.encode(value))
        if (typeof value === 'string') expect(out).toBe(value)
        else expect(Buffer.from(out as Uint8Array).equals(Buffer.from(value))).toBe(true)
      }),
    )
  })

  it('any reader decodes any writer (header says format and compression)', () => {
    const writers = formats.map((format) => createCodec({ format, compressThreshold: 8 }))
    const readers = formats.map((format) => createCodec({ format }))
    for (const w of writers) {
      const value = w.format === 'raw' ? 'x'.repeat(100) : { a: 'x'.repeat(100), n: [1, 2, 3] }
      for (const r of readers) expect(r.decode(w.encode(value))).toEqual(value)
    }
  })

  /** Raw MessagePack `body` in our header (format 3, uncompressed, CRC-32), as a stored value. */
  const framed = (body: Uint8Array) => {
    const flags = 0x10 | 3
    const bytes = Buffer.alloc(CODEC_HEADER_BYTES + body.length)
    bytes[0] = 0xca
    bytes[1] = flags
    bytes.writeUInt32BE(crc32(body, crc32(Uint8Array.of(flags))), 2)
    bytes.set(body, CODEC_HEADER_BYTES)
    return bytes
  }

  it('decodes MessagePack written without string bundles (values stored before bundleStrings)', () => {
    const before = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'auto' } as never)
    fc.assert(
      fc.property(jsonValue, (value) => {
        fc.pre(!hasProtoKey(value, 0))
        const body = before.pack(value)
        expect(decode(framed(body))).toEqual(value)
      }),
    )
  })

  it('reads strings bundled by msgpackr (extension 0x62, as a build that bundled wrote them), non-Latin text too', () => {
    const bundler = new Packr({
      useRecords: false,
      moreTypes: true,
      int64AsType: 'auto',
      bundleStrings: true,
    } as never)
    const value = { name: 'Zoë Ångström 漢字 🎉', list: ['Ada Lovelace', 'Grace Hopper', 'é'.repeat(5000)] }
    const body = bundler.pack(value)
    // fixext 4 of type 0x62: where the first bundled string stood, a pointer to the bundle.
    expect(body.includes(Buffer.from([0xd6, 0x62]))).toBe(true)
    expect(decode(framed(body))).toEqual(value)
    // What this build writes is plain msgpack strings (small values decode 3x faster than bundled).
    expect(
      createCodec({ compressThreshold: false })
        .encode(value)
        .includes(Buffer.from([0xd6, 0x62])),
    ).toBe(false)
  })

  it('skips the CRC only for bytes an outer layer authenticated (ctx.authenticated)', () => {
    const c = createCodec()
    const bytes = Buffer.from(c.encode({ a: 'hello world', n: 1 }))
    bytes.writeUInt32BE((bytes.readUInt32BE(2) ^ 1) >>> 0, 2)
    expect(codeOfSync(() => c.decode(bytes))).toBe('E_DECODE')
    expect(codeOfSync(() => c.decode(bytes, { authenticated: false }))).toBe('E_DECODE')
    expect(c.decode(bytes, { authenticated: true })).toEqual({ a: 'hello world', n: 1 })
    expect(decode(bytes, { authenticated: true })).toEqual({ a: 'hello world', n: 1 })
    // The header is still checked: authenticated bytes that are not ours are E_DECODE.
    expect(codeOfSync(() => decode(Buffer.from('{"a":1}'), { authenticated: true }))).toBe('E_DECODE')
  })

  it('keeps msgpack types: Date, Set, bigint, Buffer (a Map comes back as a plain object)', () => {
    const c = createCodec()
    const value = {
      d: new Date(1_700_000_000_000),
      m: new Map([['a', 1]]),
      s: new Set([1, 2]),
      b: 2n ** 70n,
      buf: Buffer.from('hi'),
    }
    const out = c.decode(c.encode(value)) as typeof value
    expect(out.d).toEqual(value.d)
    expect(out.m).toEqual({ a: 1 })
    expect(out.s).toEqual(value.s)
    expect(out.b).toBe(value.b)
    expect(Buffer.from(out.buf).toString()).toBe('hi')
  })

  it('compresses large values with LZ4 and not small ones', () => {
    const c = createCodec()
    const big = { text: 'abc'.repeat(2000) }
    const bytes = c.encode(big)
    expect(bytes[1]! & 0x08).toBe(0x08)
    expect(bytes.length).toBeLessThan(1000)
    expect(c.encode({ a: 1 })[1]! & 0x08).toBe(0)
    expect(createCodec({ compressThreshold: false }).encode(big)[1]! & 0x08).toBe(0)
  })

  it('returns bytes of their own, compressed or not: a later encode does not change an earlier value', () => {
    const c = createCodec({ compressThreshold: 64 })
    const values = [{ a: 1 }, { text: 'abc'.repeat(100) }, { text: 'xyz'.repeat(100) }, { b: 2 }]
    const encoded = values.map((v) => c.encode(v))
    const copies = encoded.map((b) => Buffer.from(b))
    for (let i = 0; i < 3; i++) for (const v of values) c.encode(v)
    expect(encoded).toStrictEqual(copies)
    expect(encoded.map((b) => c.decode(b))).toStrictEqual(values)
  })

  it('never returns a wrong value for corrupt bytes: any single-byte change or truncation is E_DECODE', () => {
    const c = createCodec({ compressThreshold: 64 })
    fc.assert(
      fc.property(
        // Values MessagePack refuses to encode (an own "__proto__" key: E_ENCODE, tested above) have no bytes.
        jsonValue.filter((v) => !hasProtoKey(v, 0)),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (value, pos, xor, truncate) => {
          const bytes = Buffer.from(c.encode(value))
          const i = pos % bytes.length
          const bad = truncate ? bytes.subarray(0, i) : Buffer.from(bytes)
          if (!truncate) bad[i] = bad[i]! ^ xor
          expect(codeOfSync(() => c.decode(bad))).toBe('E_DECODE')
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('rejects foreign bytes with E_DECODE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(codeOfSync(() => decode(bytes))).toBe('E_DECODE')
      }),
    )
    expect(codeOfSync(() => decode(Buffer.from('{"a":1}')))).toBe('E_DECODE')
  })

  it('rejects an unknown version and an unknown format with E_DECODE', () => {
    const good = createCodec().encode(1)
    const v2 = Buffer.from(good)
    v2[1] = 0x23
    expect(codeOfSync(() => decode(v2))).toBe('E_DECODE')
    const fmt = Buffer.from(good)
    fmt[1] = 0x17
    fmt.writeUInt32BE(crc32(fmt.subarray(CODEC_HEADER_BYTES), crc32(Uint8Array.of(0x17))), 2)
    expect(codeOfSync(() => decode(fmt))).toBe('E_DECODE')
  })

  it('a valid header over a broken payload is E_DECODE, not a wrong value', () => {
    const body = Buffer.from([0x92, 0x01])
    const forged = Buffer.concat([Buffer.from([0xca, 0x13, 0, 0, 0, 0]), body])
    forged.writeUInt32BE(crc32(body, crc32(Uint8Array.of(0x13))), 2)
    expect(codeOfSync(() => decode(forged))).toBe('E_DECODE')
  })

  it('refuses values it cannot encode with E_ENCODE', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const msgpack = createCodec()
    const json = createCodec({ format: 'json' })
    const raw = createCodec({ format: 'raw' })
    expect(codeOfSync(() => msgpack.encode(undefined))).toBe('E_ENCODE')
    expect(codeOfSync(() => msgpack.encode({ f: () => 1 }))).toBe('E_ENCODE')
    expect(codeOfSync(() => msgpack.encode(Symbol('s')))).toBe('E_ENCODE')
    expect(codeOfSync(() => msgpack.encode(cyclic))).toBe('E_ENCODE')
    expect(codeOfSync(() => json.encode(cyclic))).toBe('E_ENCODE')
    expect(codeOfSync(() => json.encode(10n))).toBe('E_ENCODE')
    expect(codeOfSync(() => json.encode(() => 1))).toBe('E_ENCODE')
    expect(codeOfSync(() => raw.encode({ a: 1 }))).toBe('E_ENCODE')
  })

  it('validates its options, naming the field', () => {
    expect(() => createCodec({ format: 'xml' as never })).toThrow(/codec\.format/)
    expect(() => createCodec({ compressThreshold: -1 })).toThrow(/codec\.compressThreshold/)
    expect(codeOfSync(() => createCodec({ nope: 1 } as never))).toBe('E_INVALID_OPTION')
  })

  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926)
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926)
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), (a, b) => {
        expect(crc32Portable(b, crc32Portable(a))).toBe(crc32(b, crc32(a)))
      }),
    )
    // Lengths around the 8-byte steps and the size where the check moves from JavaScript to zlib.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), (a, init) => {
        expect(crc32Portable(a, init >>> 0)).toBe(crc32(a, init >>> 0))
      }),
      { numRuns: 300 },
    )
  })
})

describe('codec errors', () => {
  it('never quote the stored value in an error message', () => {
    const secret = 'hunter2-secret-value'
    const body = Buffer.from(`{"password":"${secret}"`)
    const forged = Buffer.concat([Buffer.from([0xca, 0x12, 0, 0, 0, 0]), body])
    forged.writeUInt32BE(crc32(body, crc32(Uint8Array.of(0x12))), 2)
    try {
      decode(forged)
      expect.unreachable()
    } catch (err) {
      expect(isCacheError(err, 'E_DECODE')).toBe(true)
      expect((err as Error).message).toBe('[@cache/core] cannot decode value: invalid JSON payload')
      expect(JSON.stringify(err)).not.toContain(secret)
      expect((err as Error).cause).toBeUndefined()
    }
  })
})

describe('readCodecHeader', () => {
  it('reads format, compression, version and checksum without decoding; undefined for foreign bytes', () => {
    const packed = createCodec({ format: 'json', compressThreshold: 16 }).encode({ text: 'a'.repeat(500) })
    expect(readCodecHeader(packed)).toEqual({
      version: 1,
      format: 'JSON',
      compression: 'lz4',
      checksumOk: true,
      payloadBytes: packed.length - CODEC_HEADER_BYTES,
    })
    const plain = createCodec({ compressThreshold: false }).encode('x')
    expect(readCodecHeader(new Uint8Array(plain))).toMatchObject({
      format: 'MessagePack',
      compression: 'none',
    })
    const corrupt = Buffer.from(plain)
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff
    expect(readCodecHeader(corrupt)?.checksumOk).toBe(false)
    expect(readCodecHeader(Buffer.from('plain text'))).toBeUndefined()
    expect(readCodecHeader(plain.subarray(0, 3))).toBeUndefined()
  })
})
