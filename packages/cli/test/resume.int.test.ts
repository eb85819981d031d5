// --cursor and --rate on every command that scans (keys and bigkeys have their own tests): invalidate
// --pattern, queues, limits, locks. A cursor is per master ("M:C": master M by address, its SCAN cursor C), so on a
// Cluster a resumed run goes on from the master it stopped at.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Connection, connect, encodeKeyPart, parseInfo } from '@cache/client'
import { RedisCache } from '@cache/core'
import { type Lock, LockManager } from '@cache/locks'
import { defineQueue } from '@cache/queue'
import { RateLimiter } from '@cache/ratelimit'
import { type StandaloneTopology, startStandalone, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { z } from 'zod'
import type { InvalidateResult, KeysResult, LimitsResult, LocksResult, QueueState } from '../src/index.js'
import { connectTo, ensureBuilt, RUNNERS, cache as runBin, target } from './helpers.js'

const redis = inject('redis')
beforeAll(() => ensureBuilt(), 900_000)

const QUEUES = ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7']
const LOCKS = Array.from({ length: 10 }, (_, i) => `lockres-${i}`)

describe.each(RUNNERS)('%s', (_mode, cache) => {
  describe.each(['standalone', 'cluster'] as const)('resumable scans on %s', (kind) => {
    const namespace = uniquePrefix('cli-resume')
    const flags = [...target(redis, kind), '--namespace', namespace]
    let conn: Connection
    let app: RedisCache
    let locks: LockManager
    const held: Lock[] = []

    beforeAll(async () => {
      conn = await connectTo(redis, kind, namespace)
      app = new RedisCache(conn, { namespace: 'app' })
      locks = new LockManager(conn)
      for (const r of LOCKS) held.push(await locks.acquire(r, { ttl: '10m' }))
      for (let i = 0; i < 90; i++) await app.set(`item:${i}`, i, { ttl: '1h' })
      await app.set('other:1', 1, { ttl: '1h' })
      for (const name of QUEUES) {
        const q = defineQueue(conn, name, { jobs: { x: z.object({}) }, checks: false })
        await q.add('x', {})
        await q.close()
      }
      // 12 keys denied by rule "api" (2 allowed, 1 denied each), with per-key analytics.
      const limiter = new RateLimiter(conn, {
        name: 'api',
        algorithm: 'fixed-window',
        limit: 2,
        window: '1m',
        analytics: true,
      })
      for (let k = 0; k < 12; k++) for (let i = 0; i < 3; i++) await limiter.consume(`client:${k}`)
      await limiter.close()
    }, 60_000)
    afterAll(async () => {
      await Promise.all(held.map((l) => l.release()))
      await locks.close()
      await app.close()
      await conn.close()
    })

    it('invalidate --pattern --limit removes part of the matches and prints a cursor; --cursor goes on until done', async () => {
      const removed: number[] = []
      let cursor: string | null = null
      let runs = 0
      do {
        const r = await cache([
          'invalidate',
          '--cache',
          'app',
          '--pattern',
          'item:*',
          '--batch',
          '10',
          '--limit',
          '20',
          '--yes',
          '--json',
          ...(cursor ? ['--cursor', cursor] : []),
          ...flags,
        ])
        expect(r.code, r.stderr).toBe(0)
        const d = r.json<InvalidateResult>()
        expect(d.removed).toBe(d.matched)
        removed.push(d.removed)
        cursor = d.cursor
        if (cursor) expect(cursor).toMatch(/^\d+:\d+$/)
        runs++
      } while (cursor && runs < 200)
      expect(cursor).toBeNull()
      expect(runs).toBeGreaterThan(1)
      // Each run handled its own part: together every item, once.
      expect(removed.reduce((a, b) => a + b, 0)).toBe(90)
      for (let i = 0; i < 90; i += 7) expect(await app.get(`item:${i}`)).toBeUndefined()
      expect(await app.get('other:1')).toBe(1)
    })

    it('queues --cursor and limits --cursor list what the scan finds from that position on', async () => {
      // A cursor in the middle of the keyspace, from keys --limit (a SCAN cursor does not depend on MATCH).
      const k = await cache(['keys', '--batch', '10', '--limit', '1', '--json', ...flags])
      const mid = k.json<KeysResult>().cursor
      expect(mid).toMatch(/^\d+:\d+$/)
      const rest = await cache(['keys', '--cursor', mid!, '--json', ...flags])
      const after = new Set(rest.json<KeysResult>().keys)
      const metaPrefix = `${namespace}:queue:`
      const expectedQueues = QUEUES.filter((n) =>
        [...after].some((key) => key.startsWith(metaPrefix) && key.endsWith(`:${n}:meta`)),
      )
      const q = await cache(['queues', '--cursor', mid!, '--json', ...flags])
      expect(q.code, q.stderr).toBe(0)
      const resumed = q.json<{ queues: QueueState[]; cursor: string | null }>()
      expect(resumed.queues.map((x) => x.name)).toEqual(expectedQueues)
      expect(resumed.cursor).toBeNull()
      const all = await cache(['queues', '--rate', '100000', '--json', ...flags])
      expect(all.json<{ queues: QueueState[] }>().queues.map((x) => x.name)).toEqual(QUEUES)

      const l = await cache(['limits', '--cursor', mid!, '--top', '100', '--json', ...flags])
      expect(l.code, l.stderr).toBe(0)
      const limits = l.json<LimitsResult>()
      const statsSuffix = `}:${encodeKeyPart('~stats')}`
      const statsKeys = [...after].filter(
        (key) => key.startsWith(`${namespace}:rl:{`) && key.endsWith(statsSuffix),
      )
      expect(limits.topDenied.map((d) => d.key).sort()).toEqual(
        statsKeys
          .map((key) => decodeURIComponent(key.slice(`${namespace}:rl:{`.length).split('}')[0]!))
          .sort(),
      )
      expect(limits.cursor).toBeNull()
      const full = await cache(['limits', '--top', '100', '--json', ...flags])
      expect(full.json<LimitsResult>().topDenied).toHaveLength(12)

      // locks: the held locks whose keys the scan meets from that position on.
      const lk = await cache(['locks', '--cursor', mid!, '--json', ...flags])
      expect(lk.code, lk.stderr).toBe(0)
      const resumedLocks = lk.json<LocksResult>()
      const expectedLocks = LOCKS.filter((r) => [...after].some((key) => key.endsWith(`{${r}}`)))
      expect(resumedLocks.held.map((l) => l.resource).sort()).toEqual(expectedLocks.sort())
      expect(resumedLocks.cursor).toBeNull()
      const allLocks = await cache(['locks', '--rate', '100000', '--json', ...flags])
      expect(
        allLocks
          .json<LocksResult>()
          .held.map((l) => l.resource)
          .sort(),
      ).toEqual([...LOCKS].sort())
    })

    it('a bad --cursor is a usage error naming the flag on every scanning command', async () => {
      for (const args of [
        ['invalidate', '--pattern', '*', '--cursor', 'x'],
        ['queues', '--cursor', '1:'],
        ['limits', '--cursor', '99:0'],
        ['locks', '--cursor', '0'],
        ['invalidate', '--tag', 't', '--cursor', '0:0'],
      ]) {
        const r = await cache([...args, ...flags])
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.stderr, args.join(' ')).toContain('--cursor')
      }
    })
  })
})

// On its own server: Ctrl-C in the middle of a throttled scan (the shared servers hold every other test's
// keys, and which SCAN call is the middle one must be seen on the server).
describe('Ctrl-C stops a scan and prints where to resume', () => {
  const bin = join(fileURLToPath(new URL('..', import.meta.url)), 'dist/esm/bin.js')
  let server: StandaloneTopology
  let conn: Connection
  let app: RedisCache

  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({ url: server.url, namespace: 'shop' })
    app = new RedisCache(conn, { namespace: 'app' })
    for (let i = 0; i < 300; i++) await app.set(`item:${i}`, i, { ttl: '1h' })
  }, 60_000)
  afterAll(async () => {
    await app?.close()
    await conn?.close()
    await server?.stop()
  })

  const scans = async () =>
    Number(
      /calls=(\d+)/.exec(
        parseInfo(String(await conn.send(['INFO', 'commandstats']))).cmdstat_scan ?? '',
      )?.[1] ?? 0,
    )

  it('invalidate --pattern --yes: removes what it found before Ctrl-C, prints the cursor; --cursor removes the rest', async () => {
    const args = [
      'invalidate',
      '--url',
      server.url,
      '--namespace',
      'shop',
      '--cache',
      'app',
      '--pattern',
      'item:*',
    ]
    const before = await scans()
    const child = spawn(
      process.execPath,
      [bin, ...args, '--batch', '10', '--rate', '40', '--yes', '--json'],
      { env: { PATH: process.env.PATH ?? '' } },
    )
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    // Three SCAN calls seen by the server: the scan is under way (about 30 of 300 keys a second).
    await expect.poll(scans, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(before + 3)
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    const first = JSON.parse(stdout) as InvalidateResult
    expect(first.cursor).toMatch(/^0:\d+$/)
    expect(first.removed).toBe(first.matched)
    expect(first.removed).toBeLessThan(300)
    const resumed = await runBin([...args, '--cursor', first.cursor!, '--yes', '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    const rest = resumed.json<InvalidateResult>()
    expect(rest.cursor).toBeNull()
    expect(first.removed + rest.removed).toBe(300)
    for (let i = 0; i < 300; i++) expect(await app.get(`item:${i}`)).toBeUndefined()
  })
})
