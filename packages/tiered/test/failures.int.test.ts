import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { type Connection, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TieredCache } from '../src/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('Redis killed mid-traffic, then restarted', () => {
  let server: StandaloneTopology
  let conn: Connection
  let writerConn: Connection
  let cache: TieredCache<string>
  let writer: TieredCache<string>
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled)
    server = await startStandalone()
    const options = {
      url: server.url,
      namespace: 'fail',
      commandTimeout: '300ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
      breaker: { failureThreshold: 2, resetTimeout: '200ms' },
    } as const
    ;[conn, writerConn] = await Promise.all([connect(options), connect(options)])
    conn.on('error', () => {})
    writerConn.on('error', () => {})
    cache = new TieredCache<string>(conn, {
      namespace: 'app',
      grace: '1h',
      offlineRetryInterval: '100ms',
    })
    writer = new TieredCache<string>(writerConn, { namespace: 'app', coherence: 'none' })
    await cache.ready
  })
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled)
    await cache?.close()
    await writer?.close()
    await Promise.all([conn?.close(), writerConn?.close()])
    await server?.stop()
  })

  it('reads keep answering from L1 (fail-safe), writes are queued, and after the restart L1 is coherent again', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
    for (const k of keys) await writer.set(k, `v-${k}`, { ttl: '10m' })
    for (const k of keys) expect(await cache.get(k)).toBe(`v-${k}`)
    const events = { failSafe: 0, coherence: [] as boolean[], offline: 0, replayed: 0 }
    cache.on('fail-safe', () => events.failSafe++)
    cache.on('coherence', (e: { trusted: boolean }) => events.coherence.push(e.trusted))
    cache.on('offline-write', () => events.offline++)
    cache.on('replayed', (e: { count: number }) => {
      events.replayed += e.count
    })

    // Traffic from 8 loops for the whole test.
    let running = true
    const outcomes = { ok: 0, wrong: 0, errors: [] as string[] }
    const traffic = Array.from({ length: 8 }, async (_, w) => {
      let i = w
      while (running) {
        const k = keys[i++ % keys.length] as string
        try {
          const v = await cache.get(k)
          if (v === `v-${k}`) outcomes.ok++
          else if (v !== undefined) outcomes.wrong++
        } catch (err) {
          outcomes.errors.push((err as { code?: string }).code ?? String(err))
        }
        await sleep(2)
      }
    })

    await sleep(100)
    await server.master.kill()
    await waitFor('L1 distrusted', () => !cache.coherent, { timeoutMs: 5000 })
    const okBefore = outcomes.ok
    await sleep(500)
    // Every read during the outage was answered (from L1, as fail-safe), none failed.
    expect(outcomes.ok).toBeGreaterThan(okBefore)
    expect(outcomes.errors).toEqual([])
    expect(events.failSafe).toBeGreaterThan(0)
    // Writes and read-through keep working on L1.
    await cache.set('offline', 'queued')
    expect(await cache.get('offline')).toBe('queued')
    expect(await cache.getOrSet('computed', () => 'local')).toBe('local')
    expect(events.offline).toBeGreaterThanOrEqual(2)
    expect(cache.tierStats().offlineWritesQueued).toBe(2)

    // Restart with an empty dataset, so entries from before the outage are provably revalidated.
    rmSync(join(server.master.dir, 'dump.rdb'), { force: true })
    await server.master.restart()
    await waitFor('coherence re-established', () => cache.coherent, { timeoutMs: 10_000 })
    await waitFor('queued writes replayed', () => cache.tierStats().offlineWritesQueued === 0, {
      timeoutMs: 10_000,
    })
    running = false
    await Promise.all(traffic)
    expect(events.coherence).toEqual([false, true])
    expect(events.replayed).toBe(2)
    expect(outcomes.errors).toEqual([])
    expect(outcomes.wrong).toBe(0)

    // The restarted server has no data: entries from before the outage are revalidated, not trusted.
    // (The writer's own breaker may still be open for its reset timeout: wait until it sends again.)
    await waitFor(
      'writer connection back',
      () =>
        writerConn.send(['PING']).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 10_000 },
    )
    expect(await writerConn.send(['EXISTS', cache.redisKey('k0')])).toBe(0)
    expect(await cache.get('k0')).toBeUndefined()
    expect(await cache.get('k5')).toBeUndefined()
    // The replayed writes reached Redis.
    expect(await writer.get('offline')).toBe('queued')
    expect(await writer.get('computed')).toBe('local')
    // Tracking works again: another client's write evicts this process's L1.
    await writer.set('k1', 'after')
    // (The write's own invalidation may land just after a first read: read until L1 holds it.)
    await waitFor('k1 in L1', async () => (await cache.get('k1')) === 'after' && cache.cachedLocally('k1'), {
      timeoutMs: 5000,
      intervalMs: 5,
    })
    await writer.set('k1', 'after2')
    await waitFor('eviction after recovery', () => !cache.cachedLocally('k1'), {
      timeoutMs: 5000,
      intervalMs: 5,
    })
    expect(await cache.get('k1')).toBe('after2')
    expect(unhandled).toEqual([])
  })

  it('a read of a key not in L1 while Redis is down rejects with E_UNAVAILABLE or E_TIMEOUT (no hang), and recovers', async () => {
    server.master.pause()
    try {
      const err = await cache.get('never-seen').catch((e: unknown) => e)
      expect(['E_UNAVAILABLE', 'E_TIMEOUT']).toContain((err as { code: string }).code)
    } finally {
      server.master.resume()
    }
    await waitFor(
      'reads work again',
      async () => (await cache.get('never-seen').catch(() => 'err')) === undefined,
      {
        timeoutMs: 10_000,
      },
    )
    expect(unhandled).toEqual([])
  })

  it('bus coherence: L1 is distrusted while the subscriber reconnects, and trusted and coherent again after', async () => {
    const bus = new TieredCache<string>(conn, { namespace: 'bus', coherence: 'bus' })
    const other = new TieredCache<string>(writerConn, { namespace: 'bus', coherence: 'bus' })
    try {
      await Promise.all([bus.ready, other.ready])
      const states: boolean[] = []
      bus.on('coherence', (e: { trusted: boolean }) => states.push(e.trusted))
      await other.set('b', 'one')
      await waitFor('b in L1', async () => (await bus.get('b')) === 'one' && bus.cachedLocally('b'), {
        timeoutMs: 5000,
        intervalMs: 5,
      })
      await server.master.kill()
      await waitFor('bus L1 distrusted', () => !bus.coherent, { timeoutMs: 5000 })
      // Still answered from L1 while Redis is down (fail-safe), but not as a trusted hit.
      expect(bus.cachedLocally('b')).toBe(false)
      expect(await bus.get('b')).toBe('one')
      await server.master.restart()
      await waitFor('bus L1 trusted again', () => bus.coherent, { timeoutMs: 10_000 })
      expect(states).toEqual([false, true])
      // The restarted server is empty: once commands get through again (until then L1 answers, fail-safe),
      // the old L1 entry is revalidated, not served.
      await waitFor('revalidated', async () => (await bus.get('b')) === undefined, { timeoutMs: 10_000 })
      expect(bus.cachedLocally('b')).toBe(false)
      await waitFor(
        'writes work again',
        async () => (await other.set('b', 'two').then(() => true)) === true,
        {
          timeoutMs: 10_000,
        },
      )
      await waitFor('b in L1', async () => (await bus.get('b')) === 'two' && bus.cachedLocally('b'), {
        timeoutMs: 5000,
        intervalMs: 5,
      })
      await other.set('b', 'three')
      await waitFor('bus eviction after recovery', () => !bus.cachedLocally('b'), {
        timeoutMs: 5000,
        intervalMs: 5,
      })
      expect(await bus.get('b')).toBe('three')
      expect(unhandled).toEqual([])
    } finally {
      await bus.close()
      await other.close()
    }
  })

  it("offline writes: 'drop' keeps them in L1 only; 'retry' keeps the newest maxOfflineWrites and replays them", async () => {
    const drop = new TieredCache<string>(conn, {
      namespace: 'drop',
      coherence: 'none',
      offlineWrites: 'drop',
    })
    const retry = new TieredCache<string>(conn, {
      namespace: 'retry',
      coherence: 'none',
      maxOfflineWrites: 2,
      offlineRetryInterval: '50ms',
    })
    const dropped: boolean[] = []
    drop.on('offline-write', (e: { dropped: boolean }) => dropped.push(e.dropped))
    try {
      // Killed, not paused: a command that timed out against a paused server may still run when it
      // resumes (its outcome is unknown), which would blur what 'drop' means.
      await server.master.kill()
      try {
        await Promise.all([
          drop.set('d', 'local only'),
          retry.set('r1', 'one'),
          retry.set('r2', 'two'),
          retry.set('r3', 'three'),
        ])
        expect(dropped).toEqual([true])
        expect(drop.tierStats().offlineWritesQueued).toBe(0)
        expect(retry.tierStats().offlineWritesQueued).toBe(2)
        // Reads of what was written offline are answered from L1.
        expect(await drop.get('d')).toBe('local only')
      } finally {
        await server.master.restart()
      }
      await waitFor('replayed', () => retry.tierStats().offlineWritesQueued === 0, { timeoutMs: 10_000 })
      const check = new TieredCache<string>(writerConn, {
        namespace: 'retry',
        coherence: 'none',
      })
      const checkDrop = new TieredCache<string>(writerConn, {
        namespace: 'drop',
        coherence: 'none',
      })
      expect(await check.mget(['r1', 'r2', 'r3'])).toEqual([undefined, 'two', 'three'])
      expect(await checkDrop.get('d')).toBeUndefined()
      await Promise.all([check.close(), checkDrop.close()])
    } finally {
      await Promise.all([drop.close(), retry.close()])
    }
  })

  it('getManyOrSet while Redis is down: L1 values are served, the loader runs here once for the rest, its values are replayed', async () => {
    const batch = new TieredCache<string>(conn, {
      namespace: 'gm-down',
      coherence: 'none',
      offlineRetryInterval: '50ms',
    })
    try {
      await batch.set('have', 'H')
      await server.master.kill()
      const asked: string[][] = []
      try {
        const got = await batch.getManyOrSet(['have', 'new1', 'new2'], (keys) => {
          asked.push(keys)
          return Object.fromEntries(keys.map((k) => [k, `L-${k}`]))
        })
        expect([...got]).toEqual([
          ['have', 'H'],
          ['new1', 'L-new1'],
          ['new2', 'L-new2'],
        ])
        expect(asked).toEqual([['new1', 'new2']])
        expect(batch.tierStats().offlineWritesQueued).toBe(2)
        // Served from L1 while Redis stays down, without asking the loader again.
        const again = await batch.getManyOrSet(['new1', 'new2'], () => {
          throw new Error('must not be called')
        })
        expect([...again.values()]).toEqual(['L-new1', 'L-new2'])
      } finally {
        await server.master.restart()
      }
      await waitFor('replayed', () => batch.tierStats().offlineWritesQueued === 0, { timeoutMs: 10_000 })
      const check = new TieredCache<string>(writerConn, { namespace: 'gm-down', coherence: 'none' })
      await waitFor(
        'the replayed values in Redis',
        async () => {
          const values = await check.mget(['new1', 'new2']).catch(() => [])
          return values[0] === 'L-new1' && values[1] === 'L-new2'
        },
        { timeoutMs: 10_000 },
      )
      await check.close()
    } finally {
      await batch.clear().catch(() => {})
      await batch.close()
    }
  })

  it('a server that refuses CLIENT TRACKING: ready rejects with E_UNSUPPORTED, the cache still works without L1', async () => {
    await server.master.command([
      'ACL',
      'SETUSER',
      'notrack',
      'on',
      '>pw',
      '~*',
      '&*',
      '+@all',
      '-client|tracking',
    ])
    const limited = await connect({ url: server.url, username: 'notrack', password: 'pw', namespace: 'acl' })
    const cache = new TieredCache<string>(limited, { namespace: 'n' })
    try {
      const err = await cache.ready.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((err as { code?: string }).code).toBe('E_UNSUPPORTED')
      expect(String((err as Error).message)).toMatch(/coherence "bus"/)
      await cache.set('k', 'v')
      expect(await cache.get('k')).toBe('v')
      expect(cache.cachedLocally('k')).toBe(false)
      expect(cache.coherent).toBe(false)
    } finally {
      await cache.close()
      await limited.close()
    }
  })
})
