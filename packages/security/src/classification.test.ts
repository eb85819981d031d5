import { randomBytes } from 'node:crypto'
import { createCodec } from '@cache/core'
import { describe, expect, it } from 'vitest'
import { assertClassification } from './classification.js'
import { encryptionCodec } from './encryption-codec.js'
import { Keyring } from './keyring.js'

const codec = encryptionCodec(new Keyring({ keys: [{ id: 'k', key: randomBytes(32), status: 'primary' }] }))

describe('assertClassification', () => {
  it('refuses an unencrypted codec for confidential and restricted data, and says when to audit', () => {
    for (const classification of ['confidential', 'restricted'] as const) {
      expect(() => assertClassification({ namespace: 'pii', classification, codec: createCodec() })).toThrow(
        expect.objectContaining({ code: 'E_UNENCRYPTED', namespace: 'pii' }),
      )
      expect(() => assertClassification({ namespace: 'pii', classification })).toThrow(
        expect.objectContaining({ code: 'E_UNENCRYPTED' }),
      )
      expect(assertClassification({ namespace: 'pii', classification, codec })).toBe(true)
    }
    expect(assertClassification({ namespace: 'p', classification: 'public', codec: createCodec() })).toBe(
      false,
    )
    expect(assertClassification({ namespace: 'p', classification: 'internal' })).toBe(false)
    expect(() => assertClassification({ namespace: 'p', classification: 'secret' as never })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    )
  })
})
