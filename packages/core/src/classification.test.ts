import { describe, expect, it } from 'vitest'
import { checkClassification } from './classification.js'
import { createCodec } from './codec.js'
import { schema } from './redis-cache-options.js'

describe('classification', () => {
  it('confidential and restricted refuse a codec that does not encrypt with E_UNENCRYPTED', () => {
    for (const classification of ['confidential', 'restricted'] as const) {
      expect(() => checkClassification('pii', classification, createCodec())).toThrow(
        expect.objectContaining({ code: 'E_UNENCRYPTED', details: { namespace: 'pii', classification } }),
      )
      expect(() => checkClassification('pii', classification, undefined)).toThrow(
        expect.objectContaining({ code: 'E_UNENCRYPTED' }),
      )
      const encrypting = { ...createCodec(), encrypted: true }
      expect(() => checkClassification('pii', classification, encrypting)).not.toThrow()
    }
    expect(() => checkClassification('pub', 'public', createCodec())).not.toThrow()
    expect(() => checkClassification('int', 'internal', undefined)).not.toThrow()
  })

  it('is checked when RedisCache options are parsed; internal by default', () => {
    expect(schema.parse({}).classification).toBe('internal')
    expect(() => schema.parse({ namespace: 'pii', classification: 'restricted' })).toThrow(
      expect.objectContaining({ code: 'E_UNENCRYPTED' }),
    )
    expect(schema.safeParse({ classification: 'secret' }).success).toBe(false)
  })
})
