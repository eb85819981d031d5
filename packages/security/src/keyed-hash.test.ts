import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyedHash } from './keyed-hash.js'
import { Keyring } from './keyring.js'

const ring = new Keyring({
  keys: [
    { id: 'k2', key: randomBytes(32), status: 'primary' },
    { id: 'k1', key: randomBytes(32) },
    { id: 'k0', key: randomBytes(32), status: 'disabled' },
  ],
})

describe('KeyedHash', () => {
  const hash = new KeyedHash(ring)

  it('is deterministic, key-safe and distinct for distinct inputs', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (x, y) => {
        const px = hash.part(x)
        expect(px).toBe(hash.part(x))
        expect(px).toMatch(/^[A-Za-z0-9_-]{22}$/)
        expect(hash.matches(x, px)).toBe(true)
        if (x !== y) expect(hash.part(y)).not.toBe(px)
      }),
    )
    expect(hash.matches('a', 'short')).toBe(false)
    expect(hash.digest(Buffer.from('a'))).toHaveLength(32)
  })

  it('depends on the key and the context; length is configurable', () => {
    expect(new KeyedHash(ring, { keyId: 'k1' }).part('x')).not.toBe(hash.part('x'))
    expect(new KeyedHash(ring, { context: 'email' }).part('x')).not.toBe(hash.part('x'))
    expect(new KeyedHash(ring, { length: 32 }).part('x')).toHaveLength(43)
    expect(hash.keyId).toBe('k2')
  })

  it('validates options and arguments', () => {
    expect(() => new KeyedHash(ring, { length: 8 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
    expect(() => new KeyedHash(ring, { context: '' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
    expect(() => new KeyedHash(ring, { keyId: 'k0' })).toThrow(
      expect.objectContaining({ code: 'E_KEY_DISABLED' }),
    )
    expect(() => new KeyedHash(ring, { keyId: 'zz' })).toThrow(
      expect.objectContaining({ code: 'E_KEY_NOT_FOUND' }),
    )
    expect(() => hash.part(42 as never)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }))
  })

  it('never shows its key', () => {
    expect(inspect(hash, { showHidden: true })).toBe('KeyedHash(k2)')
    expect(JSON.stringify(hash)).toBe('{"keyId":"k2"}')
    expect(String(hash)).toBe('KeyedHash(k2)')
  })
})
