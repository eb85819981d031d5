import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCacheError } from './errors.js'
import { encodeKeyPart, escapeGlob, hashSlot, KeyBuilder, MAX_KEY_PART_LENGTH } from './keys.js'

/** The reference encoding, one code point at a time (what the one-pass encodeKeyPart must equal). */
function referenceEncode(s: string): string {
  let out = ''
  for (const ch of s) {
    if (/[A-Za-z0-9._\-@/=+,;!$&()']/.test(ch)) out += ch
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out.length > MAX_KEY_PART_LENGTH ? encodeKeyPart(s) : out
}

describe('encodeKeyPart', () => {
  it('the one-pass encoding equals the per-code-point reference for any string (incl. astral and lone surrogates)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ maxLength: 300 })),
        (s) => {
          expect(encodeKeyPart(s)).toBe(referenceEncode(s))
        },
      ),
    )
    // Safe characters and colons (`user:42`) take their own fast path: the same bytes as the reference.
    const colonKey = fc.string({
      unit: fc.constantFrom(':', 'a', 'Z', '9', '.', '-', "'", '(', '%'),
      maxLength: 150,
    })
    fc.assert(
      fc.property(colonKey, (s) => {
        expect(encodeKeyPart(s)).toBe(referenceEncode(s))
      }),
    )
    expect(encodeKeyPart('a:'.repeat(50))).toMatch(/^#[A-Za-z0-9_-]{22}$/)
    for (const s of [
      'user:1',
      ':',
      '::a::',
      '{tag}',
      'a*b?[c]',
      '\ud800',
      '😀',
      'x'.repeat(200),
      '%'.repeat(50),
    ]) {
      expect(encodeKeyPart(s)).toBe(referenceEncode(s))
    }
    // A CPU-bound property: it took over 5 s on the shared 2-core machine at load 15.
  }, 30_000)

  it('keeps safe parts readable', () => {
    expect(encodeKeyPart('user-42.v1')).toBe('user-42.v1')
    expect(encodeKeyPart(42)).toBe('42')
    expect(encodeKeyPart(10n)).toBe('10')
  })

  it('escapes separators, hash tags, globs and the hash marker', () => {
    expect(encodeKeyPart('a:b')).toBe('a%3Ab')
    expect(encodeKeyPart('{x}')).toBe('%7Bx%7D')
    expect(encodeKeyPart('*?[]')).toBe('%2A%3F%5B%5D')
    expect(encodeKeyPart('#abc')).toBe('%23abc')
    expect(encodeKeyPart('%')).toBe('%25')
    expect(encodeKeyPart('é')).toBe('%C3%A9')
  })

  it('hashes long parts to a fixed-size marker', () => {
    const long = 'x'.repeat(MAX_KEY_PART_LENGTH + 1)
    const out = encodeKeyPart(long)
    expect(out).toMatch(/^#[A-Za-z0-9_-]{22}$/)
    expect(encodeKeyPart(long)).toBe(out)
  })

  it('is one-to-one: distinct parts never collide (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        (a, b) => {
          fc.pre(a !== b)
          expect(encodeKeyPart(a)).not.toBe(encodeKeyPart(b))
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('never emits a separator, brace, glob character or whitespace (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        expect(encodeKeyPart(s)).not.toMatch(/[:{}*?[\]\\\s]/)
      }),
    )
  })
})

describe('KeyBuilder', () => {
  const keys = new KeyBuilder('app')

  it('builds namespaced keys with escaped parts', () => {
    expect(keys.key('user', 'a:b')).toBe('app:user:a%3Ab')
    expect(keys.prefix).toBe('app:')
    expect(keys.owns('app:x')).toBe(true)
    expect(keys.owns('other:x')).toBe(false)
  })

  it('puts tagged keys in one cluster slot', () => {
    const a = keys.tagged('user:1', 'profile')
    const b = keys.tagged('user:1', 'sessions', 'x')
    expect(a).toBe('app:{user%3A1}:profile')
    expect(hashSlot(a)).toBe(hashSlot(b))
  })

  it('nests namespaces', () => {
    expect(keys.child('session').key('s1')).toBe('app:session:s1')
  })

  it('builds SCAN patterns that match only inside the namespace', () => {
    expect(new KeyBuilder('a.b').pattern('x*')).toBe('a.b:x*')
    expect(escapeGlob('a*b?c[d]\\')).toBe('a\\*b\\?c\\[d\\]\\\\')
  })

  it.each(['', 'a::b', 'a b', 'a{b}', 'x'.repeat(200)])(
    'rejects namespace %j with E_INVALID_OPTION',
    (ns) => {
      try {
        new KeyBuilder(ns)
        expect.unreachable()
      } catch (err) {
        expect(isCacheError(err, 'E_INVALID_OPTION')).toBe(true)
        expect((err as Error).message).toContain('"namespace"')
      }
    },
  )
})

describe('hashSlot', () => {
  it('matches Redis CLUSTER KEYSLOT for known keys', () => {
    // Values from `redis-cli CLUSTER KEYSLOT`.
    expect(hashSlot('foo')).toBe(12182)
    expect(hashSlot('bar')).toBe(5061)
    expect(hashSlot('123456789')).toBe(12739)
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'))
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}'))
    expect(hashSlot(Buffer.from('foo'))).toBe(12182)
  })

  it('a string and its UTF-8 bytes map to the same slot, hash tags and non-ASCII included (property)', () => {
    const part = fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('{', '}', '{}', 'é', '{ü}', '日本'),
    )
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), (parts) => {
        const s = parts.join('')
        expect(hashSlot(s)).toBe(hashSlot(Buffer.from(s)))
      }),
      { numRuns: 2000 },
    )
    expect(hashSlot('{é}x')).toBe(hashSlot('é'))
  })

  it('stays within 0..16383 (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const slot = hashSlot(s)
        expect(slot).toBeGreaterThanOrEqual(0)
        expect(slot).toBeLessThan(16384)
      }),
    )
  })
})
