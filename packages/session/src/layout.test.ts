import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  appended,
  chunkJson,
  compacted,
  dataOf,
  decode,
  decodeValue,
  expiryAt,
  headerLine,
  legacyHeader,
  parseHeader,
} from './layout.js'

const header = {
  gen: 0,
  createdAt: 1000,
  absoluteExpiresAt: 9000,
  idleTimeoutMs: 500,
  tenant: 't1',
  userId: 'u|\n"x',
}
const plain = (line: string) => line

describe('session layout', () => {
  it('a chunk with JSON fields spliced in parses to the fields themselves', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== '__proto__'),
          fc.jsonValue(),
        ),
        fc.record({ w: fc.nat(), d: fc.array(fc.string()) }, { requiredKeys: [] }),
        (fields, c) => {
          const set: Record<string, string> = {}
          for (const [k, v] of Object.entries(fields)) set[k] = JSON.stringify(v)
          const parsed = JSON.parse(chunkJson(c, Object.keys(set).length ? set : undefined))
          expect(parsed).toEqual({
            ...c,
            ...(Object.keys(set).length ? { s: JSON.parse(JSON.stringify(fields)) } : {}),
          })
        },
      ),
    )
  })

  it('replays chunks in order: set, delete, replace, user and idle changes; the last write wins per field', () => {
    const value = [
      headerLine(header),
      chunkJson({ w: 1000, r: 1, m: '{"ip":"1"}', l: 1600 }, { a: '1', b: '"x"', c: '[1]' }),
      chunkJson({ w: 1100, d: ['b'], u: 'ann' }, { a: '2' }),
      chunkJson({ w: 1050, i: 800 }, { c: '{"n":3}' }),
    ].join('\n')
    const d = decode(value, plain)!
    expect(d.data).toEqual({ a: 2, c: { n: 3 } })
    expect(d.json).toEqual({ a: '2', c: '{"n":3}' })
    expect(d).toMatchObject({ userId: 'ann', idleTimeoutMs: 800, lastWriteAt: 1100, liveAt: 1600, chunks: 3 })
    expect(d.meta).toEqual({ ip: '1' })
    const replaced = decode(`${value}\n${chunkJson({ w: 1200, r: 1 }, { z: 'true' })}`, plain)!
    expect(replaced.data).toEqual({ z: true })
    expect(replaced.meta).toEqual({ ip: '1' })
  })

  it('a field named __proto__ is a field, not a prototype', () => {
    const d = decode(
      `${headerLine(header)}\n${chunkJson({ w: 1 }, { ['__proto__']: '{"admin":true}' })}`,
      plain,
    )!
    expect(Object.keys(d.data)).toEqual(['__proto__'])
    expect((d.data as { admin?: boolean }).admin).toBeUndefined()
    expect(Object.getOwnPropertyDescriptor(d.json, '__proto__')?.value).toBe('{"admin":true}')
  })

  it('no header, a foreign header or a chunk that is not JSON: not a session', () => {
    expect(decode('{"s":{"a":1}}', plain)).toBeUndefined()
    expect(decode('["s1",0,1,2,3,"t","u"]\n{}', plain)).toBeUndefined()
    expect(decode(`${headerLine(header)}\nnot json`, plain)).toBeUndefined()
    expect(parseHeader('["s2",0,1,2,3,"t"]')).toBeUndefined()
    expect(parseHeader(headerLine(header))).toEqual(header)
  })

  it('a value decoded from the state of an earlier read of it (same or extended by chunks) equals its full decode', () => {
    const field = fc.constantFrom('a', 'b', 'c', '__proto__')
    const chunk = fc.record(
      {
        w: fc.nat(),
        i: fc.integer({ min: 1, max: 1e6 }),
        d: fc.array(field, { maxLength: 2 }),
        u: fc.string(),
        r: fc.constant(1 as const),
        l: fc.nat(),
        set: fc.dictionary(field, fc.jsonValue(), { maxKeys: 3 }),
      },
      { requiredKeys: ['w'] },
    )
    const line = ({ set, ...c }: { set?: Record<string, unknown> } & Record<string, unknown>) => {
      const s: Record<string, string> = {}
      for (const k of Object.keys(set ?? {})) s[k] = JSON.stringify((set as Record<string, unknown>)[k])
      return chunkJson(c, Object.keys(s).length ? s : undefined)
    }
    fc.assert(
      fc.property(fc.array(chunk, { minLength: 1, maxLength: 6 }), fc.nat(), (chunks, cut) => {
        const lines = [headerLine(header), ...chunks.map(line)]
        const k = 1 + (cut % lines.length)
        const prev = decodeValue(lines.slice(0, k).join('\n'), plain)!
        const full = decodeValue(lines.join('\n'), plain)!
        const again = decodeValue(lines.join('\n'), plain, prev)!
        expect({ ...again, dataJson: undefined }).toEqual({ ...full, dataJson: undefined })
        expect(dataOf(again)).toEqual(dataOf(full))
        expect(decodeValue(lines.join('\n'), plain, full)).toBe(full)
        // The earlier state is left as it was.
        expect({ ...prev, dataJson: undefined }).toEqual({
          ...decodeValue(lines.slice(0, k).join('\n'), plain),
          dataJson: undefined,
        })
        // Not an extension (another value of the key): decoded in full.
        const other = [headerLine({ ...header, gen: 5 }), ...lines.slice(1)].join('\n')
        expect(decodeValue(other, plain, prev)?.header.gen).toBe(5)
      }),
    )
  })

  it('the expiry is capped by the absolute deadline', () => {
    expect(expiryAt(1000, 500, 9000)).toBe(1500)
    expect(expiryAt(8800, 500, 9000)).toBe(9000)
  })

  it('reads both 0.1.x hash headers', () => {
    expect(legacyHeader({ '~': '3|10|20|30|40|5|t|a|b' })).toEqual({
      lastSeenAt: 10,
      idleTimeoutMs: 20,
      absoluteExpiresAt: 30,
      liveAt: 40,
      createdAt: 5,
      tenant: 't',
      userId: 'a|b',
    })
    expect(
      legacyHeader({ '~t': 't', '~u': 'u', '~c': '5', '~l': '10', '~i': '20', '~a': '30' }),
    ).toMatchObject({
      tenant: 't',
      userId: 'u',
      liveAt: 0,
    })
    expect(legacyHeader({ '~': '1|2|3' })).toBeUndefined()
    expect(legacyHeader({ 'f:a': '1' })).toBeUndefined()
  })
})

const field = fc.constantFrom('a', 'b', 'c', '__proto__', '7')
/** Fields as engine.encode makes them: JSON.stringify of each value. */
const fields = fc.dictionary(field, fc.jsonValue(), { maxKeys: 4 }).map((o) => {
  const s: Record<string, string> = {}
  for (const k of Object.keys(o)) s[k] = JSON.stringify(o[k])
  return s
})
/** Every kind of chunk part, each one there or not. */
const parts = { w: fc.nat(), l: fc.nat(), u: fc.string(), i: fc.integer({ min: 1, max: 1e6 }) }
const chunk = fc.record(
  {
    ...parts,
    d: fc.array(field, { maxLength: 2 }),
    r: fc.constant(1 as const),
    m: fc.constant('{"ip":"1"}'),
  },
  { requiredKeys: [] },
)

describe('session layout: the state of a value this process wrote', () => {
  it('appended(prev, chunk) equals the decode of prev with the chunk appended', () => {
    fc.assert(
      fc.property(
        fields,
        fc.array(fc.tuple(chunk, fields), { minLength: 1, maxLength: 4 }),
        (first, more) => {
          let state = decodeValue(`${headerLine(header)}\n${chunkJson({ w: 1000, r: 1 }, first)}`, plain)!
          for (const [c, set] of more) {
            const line = chunkJson(c, Object.keys(set).length ? set : undefined)
            const next = appended(state, line, c, set)
            const full = decodeValue(`${state.raw}\n${line}`, plain)!
            expect(next).toEqual(full)
            expect(Object.keys(next.json)).toEqual(Object.keys(full.json))
            state = next
          }
        },
      ),
    )
  })

  it('compacted(value) equals the decode of the value written whole', () => {
    fc.assert(
      fc.property(
        fields,
        fc.nat(),
        fc.constantFrom('{}', '{"ip":"1"}'),
        fc.nat(),
        fc.string(),
        (set, w, metaJson, liveAt, userId) => {
          const h = { ...header, gen: 7, userId }
          const line0 = headerLine(h)
          const value = `${line0}\n${chunkJson(
            { w, r: 1, ...(metaJson === '{}' ? {} : { m: metaJson }), ...(liveAt ? { l: liveAt } : {}) },
            set,
          )}`
          const got = compacted(value, h, line0, set, metaJson, w, liveAt)
          const full = decodeValue(value, plain)!
          expect(got).toEqual(full)
          expect(Object.keys(got.json)).toEqual(Object.keys(full.json))
        },
      ),
    )
  })
})
