import { encodeKeyPart } from '@cache/client'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { globToRedis, globToRegExp } from './glob.js'

describe('key building', () => {
  it('is injective: distinct keys never share an escaped form (short keys)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (a, b) => {
        fc.pre(a !== b)
        expect(encodeKeyPart(a)).not.toBe(encodeKeyPart(b))
      }),
    )
  })

  it('escaped keys never contain separators, hash-tag braces or glob characters', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(encodeKeyPart(s)).not.toMatch(/[:{}*?[\]\\]/)
      }),
    )
  })
})

describe('globs', () => {
  it('a glob of literal characters matches exactly that key, in memory and in Redis form', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), (key) => {
        const literal = key.replace(/[*?[\]\\]/g, '\\$&')
        expect(globToRegExp(literal).test(key)).toBe(true)
        expect(globToRedis(literal)).toBe(encodeKeyPart(key).replace(/[*?[\]\\]/g, '\\$&'))
      }),
    )
  })

  it('supports *, ?, classes and negated classes; rejects malformed globs', () => {
    expect(globToRegExp('user:*').test('user:42')).toBe(true)
    expect(globToRegExp('user:?').test('user:42')).toBe(false)
    expect(globToRegExp('[ab]x').test('bx')).toBe(true)
    expect(globToRegExp('[!ab]x').test('bx')).toBe(false)
    expect(globToRedis('user:[0-9]*')).toBe('user%3A[0-9]*')
    expect(globToRedis('[^a]')).toBe('[^a]')
    expect(() => globToRedis('[:]')).toThrow(/character classes/)
    expect(() => globToRegExp('abc\\')).toThrow(/lone/)
    expect(() => globToRegExp('[abc')).toThrow(/unclosed/)
    expect(() => globToRegExp('')).toThrow(/"pattern"/)
  })
})
