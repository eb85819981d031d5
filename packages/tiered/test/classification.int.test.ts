import { type Connection, connect } from '@cache/client'
import { type Codec, createCodec } from '@cache/core'
import { codeOf, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache } from '../src/index.js'

// The end-to-end case with @cache/security's real encryptionCodec runs in packages/security/test
// (encryption.int.test.ts); here a codec declares itself encrypting with the marker @cache/core checks.
const plain = createCodec()
const marked: Codec & { encrypted: true } = {
  format: plain.format,
  encrypted: true,
  encode: (value, ctx) => plain.encode(value, ctx),
  decode: (bytes, ctx) => plain.decode(bytes, ctx),
}

const { standalone } = inject('redis')
let conn: Connection
const opened: TieredCache<unknown>[] = []

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('tiered-class') })
})
afterAll(async () => {
  for (const c of opened) await c.close()
  await conn?.close()
})

const make = (options: ConstructorParameters<typeof TieredCache>[1]) => {
  const cache = new TieredCache<unknown>(conn, {
    namespace: uniquePrefix('c'),
    coherence: 'none',
    ...options,
  })
  opened.push(cache)
  return cache
}
const thrown = (f: () => unknown) => codeOf(Promise.resolve().then(f))

describe('TieredCache classification', () => {
  it('confidential and restricted refuse a codec that does not encrypt; a bad label is E_INVALID_OPTION', async () => {
    for (const classification of ['confidential', 'restricted'] as const) {
      expect(await thrown(() => make({ classification }))).toBe('E_UNENCRYPTED')
      expect(await thrown(() => make({ classification, codec: plain }))).toBe('E_UNENCRYPTED')
    }
    expect(await thrown(() => make({ classification: 'secret' as never }))).toBe('E_INVALID_OPTION')
    expect(make({}).options.classification).toBe('internal')
    expect(make({ classification: 'public' }).options.classification).toBe('public')
  })

  it('confidential values are kept in L1; restricted values never are, every read goes to L2', async () => {
    const confidential = make({ classification: 'confidential', codec: marked })
    await confidential.set('k', { v: 1 })
    expect(await confidential.get('k')).toEqual({ v: 1 })
    expect(confidential.tierStats().l1.entries).toBe(1)

    const restricted = make({ classification: 'restricted', codec: marked })
    await restricted.set('k', { v: 2 })
    expect(await restricted.getOrSet('loaded', () => ({ v: 3 }))).toEqual({ v: 3 })
    await restricted.mset([{ key: 'm', value: 4 }])
    for (let i = 0; i < 3; i++) {
      expect(await restricted.get('k')).toEqual({ v: 2 })
      expect(await restricted.getOrSet('loaded', () => ({ v: 0 }))).toEqual({ v: 3 })
      expect(await restricted.mget(['m', 'k'])).toEqual([4, { v: 2 }])
    }
    const stats = restricted.tierStats()
    expect(stats.l1).toMatchObject({ entries: 0, bytes: 0, hits: 0 })
    expect(stats.l2.hits).toBeGreaterThanOrEqual(9)
    expect(stats.factoryCalls).toBe(1)
  })
})
