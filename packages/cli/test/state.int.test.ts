import type { Connection } from '@cache/client'
import { RedisCache } from '@cache/core'
import { LockManager } from '@cache/locks'
import { instrument, Metrics } from '@cache/metrics'
import { RateLimiter } from '@cache/ratelimit'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { BenchResult, BigKeysResult, LimitsResult, LocksResult, StatsResult } from '../src/index.js'
import { connectTo, ensureBuilt, RUNNERS, target } from './helpers.js'

const redis = inject('redis')
beforeAll(() => ensureBuilt(), 900_000)

// Every test twice: the built bin end to end, and run() in-process (where coverage is measured).
describe.each(RUNNERS)('%s', (_mode, cache) => {
  describe.each(['standalone', 'cluster'] as const)('bigkeys, stats, locks, limits, bench on %s', (kind) => {
    const namespace = uniquePrefix('cli')
    const flags = [...target(redis, kind), '--namespace', namespace]
    let conn: Connection

    beforeAll(async () => {
      conn = await connectTo(redis, kind, namespace)
    })
    afterAll(() => conn.close())

    it('bigkeys: the largest keys by MEMORY USAGE, memory per namespace, keys without TTL', async () => {
      const app = new RedisCache(conn, { namespace: 'app' })
      for (let i = 0; i < 30; i++) await app.set(`small:${i}`, i, { ttl: '1h' })
      await app.set('big', { blob: 'z'.repeat(50_000) }, { ttl: '1h' })
      for (let i = 0; i < 5; i++)
        await conn.send(['SET', conn.keys.key('other', `forever:${i}`), 'x'.repeat(2000 * (i + 1))], {
          key: conn.keys.key('other', `forever:${i}`),
        })
      await app.close()
      const r = await cache(['bigkeys', '--top', '3', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const b = r.json<BigKeysResult>()
      expect(b.scanned).toBe(36)
      expect(b.top).toHaveLength(3)
      // 50 KB of z compresses to almost nothing with LZ4: the 10 KB forever:4 string is the largest.
      expect(b.top[0]!.key).toBe(`${namespace}:other:forever%3A4`)
      expect(b.top[0]!.bytes).toBeGreaterThan(10_000)
      expect(b.top.map((k) => k.bytes)).toEqual([...b.top.map((k) => k.bytes)].sort((x, y) => y - x))
      const groups = Object.fromEntries(b.namespaces.map((g) => [g.namespace, g]))
      expect(groups[`${namespace}:app`]).toMatchObject({ keys: 31, noTtl: 0 })
      expect(groups[`${namespace}:other`]).toMatchObject({ keys: 5, noTtl: 5 })
      expect(b.noTtl.count).toBe(5)
      expect(b.noTtl.top.every((k) => k.ttlMs === -1)).toBe(true)
      const text = await cache(['bigkeys', '--top', '2', ...flags])
      expect(text.stdout).toMatch(/NAMESPACE\s+KEYS\s+MEMORY\s+NO TTL/)
      expect(text.stdout).toContain('5 keys without TTL')
    })

    it('stats: reads per cache and tier, hit ratio, command latency from what the applications flushed', async () => {
      const metrics = new Metrics(conn)
      const stop = instrument(metrics)
      const app = new RedisCache(conn, { namespace: 'stats-app' })
      for (let i = 0; i < 10; i++) await app.set(`k${i}`, i, { ttl: '1h' })
      for (let i = 0; i < 30; i++) await app.get(`k${i % 15}`) // 20 hits, 10 misses
      stop()
      await app.close()
      await metrics.close()
      const r = await cache(['stats', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const s = r.json<StatsResult>()
      const tier = s.caches.find((c) => c.namespace === 'stats-app')
      expect(tier).toMatchObject({ tier: 'redis', hits: 20, misses: 10, stale: 0 })
      expect(tier!.hitRatio).toBeCloseTo(2 / 3, 5)
      expect(s.commands.perSecond).toBeGreaterThan(0)
      expect(s.commands.p99Ms).toBeGreaterThan(0)
      expect(s.commands.p50Ms!).toBeLessThanOrEqual(s.commands.p99Ms!)
      expect(s.server.clients).toBeGreaterThan(0)
      const text = await cache(['stats', ...flags])
      expect(text.stdout).toMatch(/stats-app\s+redis\s+[\d.]+\s+66\.7%\s+20\s+10\s+0/)
    })

    it('stats --watch samples again and again: one line per sample off a terminal, NDJSON with --json', async () => {
      const r = await cache(['stats', '--watch', '--interval', '200ms', '--iterations', '3', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const lines = r.stdout.trim().split('\n')
      expect(lines).toHaveLength(3)
      for (const l of lines) expect(l).toMatch(/ops\/s \d+\s+cmd\/s [\d.]+\s+p99 .+\s+hit .+\s+errors \d+/)
      expect(r.stdout).not.toContain('\x1b[')
      const j = await cache([
        'stats',
        '--watch',
        '--json',
        '--interval',
        '100ms',
        '--iterations',
        '2',
        ...flags,
      ])
      const docs = j.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as StatsResult)
      expect(docs).toHaveLength(2)
      expect(docs[1]!.at >= docs[0]!.at).toBe(true)
    })

    it('locks: the held lock with its holder and time held, a waiter, --held-over exits 1', async () => {
      const a = new LockManager(conn, { id: 'worker-a' })
      const b = new LockManager(conn, { id: 'worker-b' })
      const lock = await a.acquire('invoice:42', { ttl: '30s' })
      const waiting = b.acquire('invoice:42', { ttl: '5s', waitTimeout: '10s' }).catch(() => undefined)
      try {
        await new Promise((r) => setTimeout(r, 400))
        const r = await cache(['locks', '--json', ...flags])
        expect(r.code, r.stderr).toBe(0)
        const l = r.json<LocksResult>()
        expect(l.held).toHaveLength(1)
        expect(l.held[0]).toMatchObject({ resource: 'invoice:42', holder: 'worker-a', holdCount: 1 })
        expect(l.held[0]!.heldMs).toBeGreaterThanOrEqual(300)
        expect(l.held[0]!.ttlMs).toBeGreaterThan(20_000)
        expect(l.waiting).toEqual([
          expect.objectContaining({ waiter: 'worker-b', resource: 'invoice:42', holder: 'worker-a' }),
        ])
        expect(l.deadlocks).toEqual([])
        const over = await cache(['locks', '--held-over', '100ms', ...flags])
        expect(over.code).toBe(1)
        expect(over.stdout).toContain('1 held longer than 100ms')
        expect(over.stdout).toMatch(/invoice:42\s+worker-a/)
      } finally {
        await lock.release()
        const got = await waiting
        await got?.release()
        await a.close()
        await b.close()
      }
      const after = await cache(['locks', '--json', ...flags])
      expect(after.json<LocksResult>().held).toEqual([])
    })

    it('limits: allowed and denied per rule over every process, the most denied keys', async () => {
      const api = new RateLimiter(conn, {
        algorithm: 'fixed-window',
        limit: 3,
        window: '1m',
        name: 'api',
        analytics: true,
      })
      for (let i = 0; i < 10; i++) await api.consume('tenant-a')
      for (let i = 0; i < 4; i++) await api.consume('tenant-b')
      await api.close()
      const r = await cache(['limits', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const l = r.json<LimitsResult>()
      expect(l.decisions.api).toEqual({ allowed: 6, denied: 8 })
      const byKey = Object.fromEntries(l.topDenied.map((d) => [d.key, d]))
      expect(Object.keys(byKey).sort()).toEqual(['tenant-a', 'tenant-b'])
      for (const d of l.topDenied) expect(d.rule).toBe('api')
      // Per-key counts are written by the Redis script; denials answered from the in-process block cache are not.
      for (const d of l.topDenied) expect(d.denied).toBeGreaterThanOrEqual(1)
      expect(byKey['tenant-a']!.allowed).toBe(3)
    })

    it('bench: PING, SET, GET latency and throughput; its keys are gone afterwards', async () => {
      const r = await cache(['bench', '--requests', '300', '--concurrency', '8', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const b = r.json<BenchResult>()
      expect(b.ops.map((o) => o.op)).toEqual(['PING', 'SET', 'GET'])
      for (const o of b.ops) {
        expect(o.samples).toBe(300)
        expect(o.opsPerSecond).toBeGreaterThan(0)
        expect(o.p50).toBeGreaterThan(0)
        expect(o.p99).toBeGreaterThanOrEqual(o.p50)
      }
      const left = await cache(['keys', 'bench:*', '--count', ...flags])
      expect(left.stdout.trim()).toBe('0')
    })
  })

  describe('acl generate', () => {
    it('prints ACL SETUSER rules for the packages and namespace, offline, the password only hashed', async () => {
      const secret = `pw-${uniquePrefix('acl-secret')}`
      const r = await cache(
        ['acl', 'generate', '--user', 'app', '--packages', 'core,locks', '--namespace', 'app', '--json'],
        {
          env: { CACHE_ACL_PASSWORD: secret, REDIS_URL: 'redis://127.0.0.1:1' },
        },
      )
      expect(r.code, r.stderr).toBe(0)
      const acl = r.json<{ rules: string[]; keys: string[]; commands: string[] }>()
      expect(acl.rules[0]).toMatch(/^ACL SETUSER app reset on #[0-9a-f]{64} ~app:\* /)
      expect(acl.keys).toEqual(['~app:*'])
      expect(acl.commands).toContain('get')
      expect(r.stdout).not.toContain(secret)
      const file = await cache(['acl', 'generate', '--user', 'app', '--namespace', 'app', '--format', 'file'])
      expect(file.stdout).toMatch(/^user default off\nuser app /m)
      const bad = await cache(['acl', 'generate', '--user', 'app', '--packages', 'nope'])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('--packages')
    })
  })
})
