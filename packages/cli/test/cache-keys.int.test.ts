import { randomBytes } from 'node:crypto'
import { type Connection, connect, encodeKeyPart } from '@cache/client'
import { RedisCache } from '@cache/core'
import { encryptionCodec, Keyring } from '@cache/security'
import { type StandaloneTopology, startStandalone, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { InspectResult, InvalidateResult, KeysResult } from '../src/index.js'
import { connectTo, ensureBuilt, RUNNERS, target } from './helpers.js'

const redis = inject('redis')
beforeAll(() => ensureBuilt(), 900_000)

// Every test twice: the built bin end to end, and run() in-process (where coverage is measured).
describe.each(RUNNERS)('%s', (_mode, cache) => {
  describe.each(['standalone', 'cluster'] as const)('keys, inspect, invalidate on %s', (kind) => {
    const namespace = uniquePrefix('cli')
    const flags = [...target(redis, kind), '--namespace', namespace]
    let conn: Connection
    let app: RedisCache
    const keyring = new Keyring({
      keys: [{ id: 'k2026', key: randomBytes(32).toString('base64'), status: 'primary' }],
    })

    beforeAll(async () => {
      conn = await connectTo(redis, kind, namespace)
      app = new RedisCache(conn, { namespace: 'app' })
      // 120 users spread over every cluster slot range, tagged by team; some with history and a long value.
      for (let i = 0; i < 120; i++)
        await app.set(`user:${i}`, { id: i, name: `user ${i}` }, { ttl: '1h', tags: [`team:${i % 3}`] })
      await app.set('doc:1', 'x'.repeat(5000), { ttl: '10m', tags: ['docs'], keepVersions: 3 })
      await app.set('doc:1', 'y'.repeat(5000), { ttl: '10m', tags: ['docs', 'team:0'], keepVersions: 3 })
      const secret = new RedisCache(conn, { namespace: 'pii', codec: encryptionCodec(keyring) })
      await secret.set('alice', { email: 'alice@example.com' }, { ttl: '1h' })
      await secret.close()
    }, 60_000)
    afterAll(async () => {
      await app.close()
      await conn.close()
    })

    it('keys: SCAN on every master finds every key of the namespace', async () => {
      const r = await cache(['keys', 'app:v:*', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const k = r.json<KeysResult>()
      expect(k.count).toBe(121)
      expect(new Set(k.keys)).toEqual(
        new Set([
          ...Array.from({ length: 120 }, (_, i) => `${namespace}:app:v:{${encodeKeyPart(`user:${i}`)}}`),
          `${namespace}:app:v:{${encodeKeyPart('doc:1')}}`,
        ]),
      )
      expect(k.cursor).toBeNull()
      const count = await cache(['keys', 'app:v:{user*', '--count', ...flags])
      expect(count.stdout.trim()).toBe('120')
      // Not a terminal: no progress bar on stderr, only the summary.
      expect(count.stderr).not.toContain('ETA')
    })

    it('keys: --limit stops early with a cursor; --cursor resumes; together they visit every key once', async () => {
      const seen: string[] = []
      let cursor: string | null = null
      let runs = 0
      do {
        const r = await cache([
          'keys',
          'app:v:*',
          '--json',
          '--batch',
          '20',
          '--limit',
          '30',
          ...(cursor ? ['--cursor', cursor] : []),
          ...flags,
        ])
        expect(r.code, r.stderr).toBe(0)
        const k = r.json<KeysResult>()
        seen.push(...(k.keys ?? []))
        cursor = k.cursor
        runs++
      } while (cursor && runs < 50)
      expect(runs).toBeGreaterThan(2)
      expect(seen).toHaveLength(121)
      expect(new Set(seen).size).toBe(121)
    })

    it('keys: a bad --cursor or --batch is a usage error (exit 2)', async () => {
      const [a, b] = await Promise.all([
        cache(['keys', '--cursor', 'abc', ...flags]),
        cache(['keys', '--batch', '-1', ...flags]),
      ])
      expect(a.code).toBe(2)
      expect(a.stderr).toContain('--cursor')
      expect(b.code).toBe(2)
    })

    it('inspect: codec header, TTL, tags, versions of a cache entry; the value only with --value', async () => {
      const r = await cache(['inspect', 'doc:1', '--cache', 'app', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const i = r.json<InspectResult>()
      expect(i.exists).toBe(true)
      expect(i.type).toBe('string')
      expect(i.ttlMs).toBeGreaterThan(5 * 60_000) // 10m, minus however long a loaded machine took to get here
      expect(i.header).toMatchObject({
        kind: 'codec',
        format: 'MessagePack',
        compression: 'lz4',
        checksumOk: true,
        version: 1,
      })
      expect(i.header!.bytes).toBeLessThan(5000)
      expect(i.cache?.key).toBe('doc:1')
      expect(i.cache?.tags).toEqual(['docs', 'team:0'])
      expect(i.cache?.versions.map((v: { version: number }) => v.version)).toEqual([2, 1])
      expect(i.value).toBeUndefined()
      expect(r.stdout).not.toContain('yyyy')
      const v = await cache([
        'inspect',
        `${namespace}:app:v:{${encodeKeyPart('user:7')}}`,
        '--value',
        '--json',
        ...flags,
      ])
      expect(v.json<InspectResult>()).toMatchObject({
        header: { format: 'MessagePack', compression: 'none' },
        value: { id: 7, name: 'user 7' },
        cache: { tags: ['team:1'] },
      })
      const text = await cache(['inspect', 'doc:1', '--cache', 'app', ...flags])
      expect(text.stdout).toMatch(/codec\s+@cache\/core v1: MessagePack, compression lz4, checksum ok/)
    })

    it('inspect: an encrypted value shows its key id and nothing of the plaintext', async () => {
      const r = await cache(['inspect', 'alice', '--cache', 'pii', '--value', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const i = r.json<InspectResult>()
      expect(i.header).toMatchObject({ kind: 'encrypted', keyId: 'k2026', version: 1 })
      expect(i.value).toBeUndefined()
      expect(r.stdout).not.toContain('alice@example.com')
    })

    it('inspect: a missing key exits 1, a foreign or corrupt value is reported', async () => {
      const missing = await cache(['inspect', 'nope', '--cache', 'app', ...flags])
      expect(missing.code).toBe(1)
      expect(missing.stdout).toContain('no such key')
      const foreign = `${namespace}:raw`
      await conn.send(['SET', foreign, 'plain text'], { key: foreign })
      const f = await cache(['inspect', foreign, '--json', ...flags])
      expect(f.json<InspectResult>().header).toEqual({ kind: 'foreign', bytes: 10 })
      const rk = `${namespace}:app:v:{${encodeKeyPart('user:5')}}`
      const bytes = await conn.send<Buffer>(['GET', rk], { key: rk, buffers: true })
      bytes[bytes.length - 1]! ^= 0xff
      await conn.send(['SET', rk, bytes, 'PX', '60000'], { key: rk })
      const c = await cache(['inspect', rk, '--json', ...flags])
      expect(c.code).toBe(1)
      expect(c.json<InspectResult>().header).toMatchObject({
        checksumOk: false,
        problem: 'checksum mismatch (corrupt value)',
      })
    })

    it('invalidate --dry-run counts and lists, removes nothing', async () => {
      const r = await cache([
        'invalidate',
        '--cache',
        'app',
        '--tag',
        'team:2',
        '--dry-run',
        '--json',
        ...flags,
      ])
      expect(r.code, r.stderr).toBe(0)
      const d = r.json<InvalidateResult>()
      expect(d).toMatchObject({ matched: 40, dryRun: true, removed: 0 })
      expect(d.sample).toHaveLength(20)
      expect(await app.get('user:2')).toBeDefined()
    })

    it('invalidate asks first: "n" (or no answer) keeps everything (exit 1), "y" removes the tag', async () => {
      const no = await cache(['invalidate', '--cache', 'app', '--tag', 'team:2', ...flags], { input: 'n\n' })
      expect(no.code).toBe(1)
      expect(no.stderr).toContain('Invalidate 40 entries of cache "app" tagged team:2? [y/N]')
      expect(no.stdout).toContain('not confirmed')
      const silent = await cache(['invalidate', '--cache', 'app', '--tag', 'team:2', ...flags])
      expect(silent.code).toBe(1)
      expect(await app.get('user:2')).toBeDefined()
      const yes = await cache(['invalidate', '--cache', 'app', '--tag', 'team:2', ...flags], { input: 'y\n' })
      expect(yes.code, yes.stderr).toBe(0)
      expect(yes.stdout).toContain('removed 40')
      expect(await app.get('user:2')).toBeUndefined()
      expect(await app.get('user:3')).toBeDefined()
    })

    it('invalidate --pattern --yes removes the matching entries without asking', async () => {
      const r = await cache([
        'invalidate',
        '--cache',
        'app',
        '--pattern',
        'user:1*',
        '--yes',
        '--json',
        ...flags,
      ])
      expect(r.code, r.stderr).toBe(0)
      // user:1, 10-19, 100-119, minus those of team:2 (already gone): 1, 10, 13, 16, 19, 100, 103, …
      const expected = [
        1,
        ...Array.from({ length: 10 }, (_, i) => 10 + i),
        ...Array.from({ length: 20 }, (_, i) => 100 + i),
      ].filter((i) => i % 3 !== 2)
      expect(r.json<InvalidateResult>()).toMatchObject({
        matched: expected.length,
        removed: expected.length,
        confirmed: true,
      })
      for (const i of expected) expect(await app.get(`user:${i}`)).toBeUndefined()
      expect(await app.get('user:3')).toBeDefined()
    })

    it('invalidate without --tag or --pattern is a usage error', async () => {
      const r = await cache(['invalidate', ...flags])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('--tag')
    })
  })
})

// On its own server: a scan examines every key of the server, and the shared ones hold every other test's
// keys (tens of thousands in a full run), which at --rate 100 would take minutes.
describe.each(RUNNERS)('%s: keys --rate', (_mode, cache) => {
  let server: StandaloneTopology
  const namespace = uniquePrefix('cli-rate')
  beforeAll(async () => {
    server = await startStandalone()
    const conn = await connect({ url: server.url })
    for (let i = 0; i < 200; i++)
      await conn.send(['SET', `${namespace}:k${i}`, 'v'], { key: `${namespace}:k${i}` })
    await conn.close()
  }, 60_000)
  afterAll(() => server?.stop())

  it('throttles the scan to about N keys a second', async () => {
    const flags = ['--url', server.url, '--namespace', namespace]
    const fast = await cache(['keys', '--count', '--batch', '10', ...flags])
    expect(fast.code, fast.stderr).toBe(0)
    expect(fast.stdout.trim()).toBe('200')
    const t0 = performance.now()
    const r = await cache(['keys', '--count', '--batch', '10', '--rate', '100', ...flags])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('200')
    // 200 keys at 100 a second: about 2 s of spacing (the first batch goes at once).
    expect(performance.now() - t0).toBeGreaterThan(1_500)
  })
})
