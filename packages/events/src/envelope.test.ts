import { KeyBuilder, UnsupportedError } from '@cache/client'
import fc from 'fast-check'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  decodeEntry,
  decodeEnvelope,
  describeIssues,
  encodeEnvelope,
  encodeJson,
  validate,
} from './envelope.js'
import { InvalidPayloadError } from './errors.js'
import { channelName, patternName, presenceKeys, streamKeys } from './keys.js'
import type { InputOf, PayloadOf } from './pubsub.js'

describe('envelope', () => {
  it('round-trips any JSON value, with and without a source', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.option(fc.string(), { nil: undefined }), (data, src) => {
        const decoded = decodeEnvelope(encodeEnvelope('c', data, src))
        expect(typeof decoded).toBe('object')
        const env = decoded as { data: unknown; src?: string }
        expect(env.data).toEqual(JSON.parse(JSON.stringify(data)))
        expect(env.src).toBe(src)
      }),
    )
  })

  it('has the documented wire format', () => {
    expect(encodeEnvelope('c', { key: 'k' }, 'node-1')).toBe('{"v":1,"src":"node-1","data":{"key":"k"}}')
    expect(encodeEnvelope('c', null)).toBe('{"v":1,"data":null}')
  })

  it('explains why a message is not an envelope', () => {
    expect(decodeEnvelope('{')).toBe('not JSON')
    expect(decodeEnvelope('"s"')).toBe('not an envelope object')
    expect(decodeEnvelope('[]')).toBe('not an envelope object')
    expect(decodeEnvelope('null')).toBe('not an envelope object')
    expect(decodeEnvelope('{"v":2,"data":1}')).toBe('unknown envelope version 2')
    expect(decodeEnvelope('{"v":1}')).toBe('envelope has no "data"')
    expect(decodeEnvelope('{"v":1,"data":1,"src":1}')).toBe('envelope "src" is not a string')
  })

  it('refuses values JSON cannot carry, with a typed error', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.me = cyclic
    expect(() => encodeJson('t', cyclic)).toThrow(InvalidPayloadError)
    expect(() => encodeJson('t', undefined)).toThrow(/not JSON-serialisable/)
    expect(() => encodeJson('t', () => 1)).toThrow(/not JSON-serialisable/)
    expect(() => encodeJson('t', 1n)).toThrow(InvalidPayloadError)
  })

  it('validates with zod into short issue lines that never echo values', () => {
    const schema = z.object({ secret: z.string().min(20), n: z.number() })
    const result = validate(schema, 'ch', { secret: 'hunter2', n: 'x' })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error.code).toBe('E_INVALID_PAYLOAD')
    expect(result.error.target).toBe('ch')
    expect(result.error.issues).toHaveLength(2)
    expect(result.error.message).not.toContain('hunter2')
    expect(describeIssues(z.string().safeParse(1).error!)).toEqual([expect.stringMatching(/^\(root\): /)])
    expect(validate(undefined, 'ch', 5)).toEqual({ ok: true, value: 5 })
    expect(validate(z.coerce.number(), 'ch', '5')).toEqual({ ok: true, value: 5 })
  })

  it('decodes stream entries, rejecting missing, unversioned-wrong, non-JSON and schema-failing data', () => {
    const schema = z.object({ n: z.number() })
    expect(decodeEntry('s', { id: '1-0', fields: ['v', '1', 'data', '{"n":1}'] }, schema)).toEqual({ n: 1 })
    expect(decodeEntry('s', { id: '1-0', fields: ['data', '{"n":1}'] }, undefined)).toEqual({ n: 1 })
    const bad = [
      { id: '1', fields: ['x', 'y'] },
      { id: '1', fields: ['v', '2', 'data', '1'] },
      { id: '1', fields: ['data', '{'] },
      { id: '1', fields: ['data', '{"n":"1"}'] },
    ]
    for (const entry of bad) expect(decodeEntry('s', entry, schema)).toBeInstanceOf(InvalidPayloadError)
  })

  it('has typed errors with stable codes', () => {
    // E_UNSUPPORTED is the family's one class (from @cache/client), re-exported here.
    const e = new UnsupportedError('[@cache/events] nope')
    expect(e).toMatchObject({
      code: 'E_UNSUPPORTED',
      name: 'UnsupportedError',
      message: '[@cache/events] nope',
    })
    expect(new InvalidPayloadError('t', ['a: b']).name).toBe('InvalidPayloadError')
  })

  it('types payloads from the schema map', () => {
    const schemas = { a: z.object({ n: z.number() }), b: z.string().transform((s) => s.length) }
    type S = typeof schemas
    expectTypeOf<PayloadOf<S, 'a'>>().toEqualTypeOf<{ n: number }>()
    expectTypeOf<PayloadOf<S, 'b'>>().toEqualTypeOf<number>()
    expectTypeOf<InputOf<S, 'b'>>().toEqualTypeOf<string>()
    expectTypeOf<PayloadOf<S, 'other'>>().toEqualTypeOf<unknown>()
  })
})

describe('keys', () => {
  const keys = new KeyBuilder('app')
  it('prefixes channels and escapes the prefix of patterns', () => {
    expect(channelName('app:', 'orders.created')).toBe('app:orders.created')
    expect(patternName('a*b:', 'orders.*')).toBe('a\\*b:orders.*')
  })
  it('keeps a stream and its dead letters in one slot, and a presence registry in one slot', () => {
    expect(streamKeys(keys, 'orders')).toEqual({
      stream: 'app:stream:{orders}',
      dead: 'app:stream:{orders}:dead',
    })
    expect(streamKeys(keys, 'a:b{c}').stream).toBe('app:stream:{a%3Ab%7Bc%7D}')
    const p = presenceKeys(keys, 'lobby')
    expect([p.records, p.expiry, p.room('r:1')]).toEqual([
      'app:presence:{lobby}:conn',
      'app:presence:{lobby}:exp',
      'app:presence:{lobby}:room:r%3A1',
    ])
  })
})
