import {
  type Connection,
  connect,
  isCacheError,
  Lease,
  type ScriptFn,
  type ScriptOptions,
} from '@cache/client'
import { uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache, type TieredCacheOptions } from '../src/index.js'
import { type Peer, spawnPeer } from './fixtures/peers.js'

const { standalone, cluster } = inject('redis')
const root = uniquePrefix('tiered-gm')
let conn: Connection
let clusterConn: Connection
const opened: Array<TieredCache<unknown>> = []

beforeAll(async () => {
  ;[conn, clusterConn] = await Promise.all([
    connect({ url: standalone.url, namespace: root }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('tiered-gmc') }),
  ])
})
afterAll(async () => {
  for (const c of opened) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await Promise.all([conn?.close(), clusterConn?.close()])
})

function make(options: TieredCacheOptions = {}, on: Connection = conn) {
  const cache = new TieredCache<unknown>(on, { namespace: uniquePrefix('gm'), coherence: 'none', ...options })
  opened.push(cache)
  return cache
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (err) {
    return isCacheError(err) ? err.code : String(err)
  }
  return 'ok'
}

describe('getManyOrSet: one computation per key', () => {
  it('overlapping batches and getOrSet calls in one process load each key once', async () => {
    const cache = make()
    const loaded: string[] = []
    const load = async (keys: string[]) => {
      loaded.push(...keys)
      await sleep(100)
      return new Map(keys.map((k) => [k, `v-${k}`]))
    }
    const [x, y, z] = await Promise.all([
      cache.getManyOrSet(['a', 'b', 'c'], load),
      cache.getManyOrSet(['b', 'c', 'd'], load),
      cache.getOrSet('c', async () => {
        loaded.push('c')
        await sleep(100)
        return 'v-c'
      }),
    ])
    // Whichever call claimed 'c' first computed it; every other call joined that one flight.
    expect(loaded.sort()).toEqual(['a', 'b', 'c', 'd'])
    expect([...x]).toEqual([
      ['a', 'v-a'],
      ['b', 'v-b'],
      ['c', 'v-c'],
    ])
    expect([...y]).toEqual([
      ['b', 'v-b'],
      ['c', 'v-c'],
      ['d', 'v-d'],
    ])
    expect(z).toBe('v-c')
    expect(cache.tierStats().factoryCalls).toBeLessThanOrEqual(3)
  })

  it('4 processes with overlapping key sets on a cold cache: every key is loaded exactly once (counted in Redis)', async () => {
    const namespace = uniquePrefix('gm4')
    const peers: Peer[] = Array.from({ length: 4 }, () =>
      spawnPeer({ url: standalone.url, root, namespace, coherence: 'tracking' }),
    )
    const sets = [
      ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'],
      ['k3', 'k4', 'k5', 'k6', 'k7', 'k8'],
      ['k6', 'k7', 'k8', 'k9', 'k0', 'k1'],
      ['k0', 'k2', 'k4', 'k6', 'k8', 'k9'],
    ]
    try {
      await Promise.all(peers.map((p) => p.ready))
      const replies = await Promise.all(peers.map((p, i) => p.send('gmos', '-', sets[i])))
      for (const r of replies) expect(r.error).toBeUndefined()
      const counts = (await conn.send(['HGETALL', `${root}:loaded`])) as string[] | Record<string, string>
      const record = Array.isArray(counts)
        ? Object.fromEntries(counts.flatMap((_, i) => (i % 2 ? [] : [[counts[i], counts[i + 1]]])))
        : counts
      expect(Object.keys(record).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'])
      for (const n of Object.values(record)) expect(Number(n)).toBe(1)
      // Every process got every key it asked for, and all agree on who loaded it.
      const owner = new Map<string, number>()
      for (const [i, r] of replies.entries()) {
        const value = r.value as Record<string, { key: string; by: number }>
        expect(Object.keys(value)).toEqual(sets[i])
        for (const [k, v] of Object.entries(value)) {
          expect(v.key).toBe(k)
          if (owner.has(k)) expect(owner.get(k)).toBe(v.by)
          else owner.set(k, v.by)
        }
      }
    } finally {
      for (const p of peers) p.kill()
      await conn.send(['DEL', `${root}:loaded`])
    }
  })

  it('on Cluster, keys spread over slots are loaded once across two caches racing', async () => {
    const namespace = uniquePrefix('gmc')
    const a = make({ namespace, coherence: 'tracking' }, clusterConn)
    const b = make({ namespace, coherence: 'tracking' }, clusterConn)
    await Promise.all([a.ready, b.ready])
    const loaded: string[] = []
    const load = async (keys: string[]) => {
      loaded.push(...keys)
      await sleep(150)
      return Object.fromEntries(keys.map((k) => [k, k.length]))
    }
    const keys = Array.from({ length: 20 }, (_, i) => `user:${i}`)
    const [ra, rb] = await Promise.all([
      a.getManyOrSet(keys, load),
      b.getManyOrSet([...keys].reverse(), load),
    ])
    expect(loaded.sort()).toEqual([...keys].sort())
    expect(ra.size).toBe(20)
    expect(rb.size).toBe(20)
    expect([...rb.keys()]).toEqual([...keys].reverse())
  })
})

describe('getManyOrSet across processes: failures and a dead lease holder', () => {
  it('the holder’s loader fails: another process waiting on those keys gets E_FACTORY, its own keys load', async () => {
    const namespace = uniquePrefix('gmf')
    const a = make({ namespace })
    // b has a connection of its own, whose getOrSet lease attempts the test can see: a's loader fails only
    // once b has found f2's lease taken and is waiting on it (no sleep to race under CI load).
    const bConn = await connect({ url: standalone.url, namespace: root })
    let bWaits!: () => void
    const bWaiting = new Promise<void>((resolve) => {
      bWaits = resolve
    })
    const leaseOfF2 = a.redisKey('f2').replace(':v:{', ':l:{')
    const define = bConn.defineScript.bind(bConn)
    bConn.defineScript = ((name: string, lua: string, options: ScriptOptions) => {
      const fn = define(name, lua, options)
      if (name !== 'core:lease-if-missing') return fn
      const seen = async (keys: ReadonlyArray<string>, args?: Parameters<ScriptFn>[1]) => {
        const got = await fn(keys, args)
        if (keys[1] === leaseOfF2 && Number(got) === 0) bWaits()
        return got
      }
      return Object.assign(seen, { scriptName: fn.scriptName, sha: fn.sha })
    }) as typeof bConn.defineScript
    const b = make({ namespace }, bConn)
    try {
      const failing = async () => {
        await bWaiting
        throw new Error('db down')
      }
      const pa = a.getManyOrSet(['f1', 'f2'], failing)
      await waitFor(
        'a holds the lease of f2',
        async () => (await conn.send<number>(['EXISTS', leaseOfF2], { key: leaseOfF2 })) === 1,
      )
      const pb = b.getManyOrSet(['f2', 'f3'], (keys) => Object.fromEntries(keys.map((k) => [k, k])))
      await expect(pa).rejects.toThrow('db down')
      expect(await codeOf(pb)).toBe('E_FACTORY')
      // Nothing was cached for the failed keys; f3 was loaded by b.
      expect([...(await b.getManyOrSet(['f3'], () => ({})))]).toEqual([['f3', 'f3']])
      expect(await a.has('f2')).toBe(false)
    } finally {
      await b.close()
      await bConn.close()
    }
  })

  it('a lease holder that died: its lease expires and this process loads the key alone', async () => {
    const cache = make({ namespace: uniquePrefix('gmd') })
    // Another process took the getOrSet lease of 'orphan' and died (a lease of 300 ms nobody releases).
    const lease = new Lease(conn, cache.redisKey('orphan').replace(':v:{', ':l:{'), { ttl: 300 })
    expect(await lease.acquire()).toBe(true)
    const asked: string[][] = []
    const started = performance.now()
    const got = await cache.getManyOrSet(['orphan', 'free'], (keys) => {
      asked.push(keys)
      return Object.fromEntries(keys.map((k) => [k, `v-${k}`]))
    })
    expect([...got]).toEqual([
      ['orphan', 'v-orphan'],
      ['free', 'v-free'],
    ])
    expect(asked).toEqual([['free'], ['orphan']])
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
  })
})

describe('getManyOrSet: grace, fail-safe, timeouts, misses, per-key options', () => {
  it('a loader failure serves stale values (fail-safe); keys without one reject', async () => {
    let t = 1_000_000
    const cache = make({ now: () => t, grace: '1h' })
    await cache.getManyOrSet(['s1', 's2'], (keys) => new Map(keys.map((k) => [k, `old-${k}`])), { ttl: '1s' })
    t += 5_000
    const failing = async () => {
      throw new Error('db down')
    }
    const served: unknown[] = []
    cache.on('fail-safe', (e) => served.push(e))
    expect([...(await cache.getManyOrSet(['s1', 's2'], failing, { timeouts: { soft: '1s' } }))]).toEqual([
      ['s1', 'old-s1'],
      ['s2', 'old-s2'],
    ])
    expect(served).toEqual([
      { key: 's1', reason: 'factory' },
      { key: 's2', reason: 'factory' },
    ])
    await expect(cache.getManyOrSet(['s1', 'fresh-miss'], failing)).rejects.toThrow('db down')
    // Without fail-safe the stale key's failure reaches the caller too.
    await expect(
      cache.getManyOrSet(['s1'], failing, { failSafe: false, timeouts: { soft: '1s' } }),
    ).rejects.toThrow('db down')
  })

  it('a slow loader hits the soft timeout: stale values now, the refreshed ones on the next call', async () => {
    let t = 2_000_000
    const cache = make({ now: () => t, grace: '1h' })
    await cache.getManyOrSet(['p', 'q'], (keys) => Object.fromEntries(keys.map((k) => [k, 1])), { ttl: '1s' })
    t += 5_000
    let done = false
    const slow = async (keys: string[], { stale }: { stale: ReadonlyMap<string, unknown> }) => {
      expect([...stale]).toEqual([
        ['p', 1],
        ['q', 1],
      ])
      await sleep(400)
      done = true
      return Object.fromEntries(keys.map((k) => [k, 2]))
    }
    const started = performance.now()
    const now = await cache.getManyOrSet(['p', 'q'], slow, { ttl: '1m', timeouts: { soft: 50 } })
    expect(performance.now() - started).toBeLessThan(350)
    expect([...now.values()]).toEqual([1, 1])
    expect(cache.tierStats().staleServed).toBe(2)
    await waitFor('the refresh', () => done)
    await sleep(50)
    const next = await cache.getManyOrSet(['p', 'q'], async () => {
      throw new Error('must not be called')
    })
    expect([...next.values()]).toEqual([2, 2])
  })

  it('the hard timeout aborts the loader: E_FACTORY_TIMEOUT, or the stale value with fail-safe', async () => {
    let t = 3_000_000
    const cache = make({ now: () => t, grace: '1h' })
    let aborted = 0
    const hang = (_keys: string[], { signal }: { signal: AbortSignal }) =>
      new Promise<Record<string, number>>((_, reject) => {
        signal.addEventListener('abort', () => {
          aborted++
          reject(signal.reason)
        })
      })
    expect(await codeOf(cache.getManyOrSet(['h1', 'h2'], hang, { timeouts: { hard: 80 } }))).toBe(
      'E_FACTORY_TIMEOUT',
    )
    expect(aborted).toBe(1)
    await cache.set('h1', 'old', { ttl: '1s' })
    t += 5_000
    const got = await cache.getManyOrSet(['h1'], hang, { timeouts: { soft: '10s', hard: 80 } })
    expect(got.get('h1')).toBe('old')
    expect(aborted).toBe(2)
  })

  it('keys the loader does not return are misses, remembered only with cacheMisses', async () => {
    const cache = make()
    const asked: string[][] = []
    const load = (keys: string[]) => {
      asked.push(keys)
      return Object.fromEntries(keys.filter((k) => k !== 'gone').map((k) => [k, k]))
    }
    expect([...(await cache.getManyOrSet(['x', 'gone'], load))]).toEqual([['x', 'x']])
    expect([...(await cache.getManyOrSet(['x', 'gone'], load))]).toEqual([['x', 'x']])
    expect(asked).toEqual([['x', 'gone'], ['gone']])
    await cache.getManyOrSet(['gone'], load, { cacheMisses: '30s' })
    await cache.getManyOrSet(['gone', 'y'], load, { cacheMisses: '30s' })
    expect(asked).toEqual([['x', 'gone'], ['gone'], ['gone'], ['y']])
    // A value written meanwhile wins over the remembered miss.
    await cache.set('gone', 'back')
    expect((await cache.getManyOrSet(['gone'], load, { cacheMisses: '30s' })).get('gone')).toBe('back')
    expect(await codeOf(cache.getManyOrSet(['z'], load, { cacheMisses: 'soon' as never }))).toBe(
      'E_INVALID_OPTION',
    )
  })

  it('per-key TTLs, tags and dependencies of the loaded entries', async () => {
    const cache = make()
    await cache.set('parent', 'P')
    const got = await cache.getManyOrSet(
      ['t:1', 't:2', 't:3'],
      (keys) => Object.fromEntries(keys.map((k) => [k, Number(k.slice(2))])),
      {
        ttl: '10m',
        tags: ['all'],
        entry: (key, value) =>
          value === 1
            ? { ttl: '1m', tags: ['all', 'one'] }
            : key === 't:3'
              ? { dependsOn: ['parent'] }
              : undefined,
      },
    )
    expect([...got.values()]).toEqual([1, 2, 3])
    const ttl1 = (await cache.ttl('t:1')) as number
    const ttl2 = (await cache.ttl('t:2')) as number
    expect(ttl1).toBeLessThanOrEqual(60_000)
    expect(ttl2).toBeGreaterThan(60_000)
    expect(await cache.invalidateTags(['one'])).toBe(1)
    expect(await cache.has('t:1')).toBe(false)
    expect(await cache.invalidate('parent')).toBe(2)
    expect(await cache.has('t:3')).toBe(false)
    expect(await cache.has('t:2')).toBe(true)
    expect(await cache.invalidateTags(['all'])).toBe(1)
  })

  it('eager refresh: a hit past the threshold is refreshed in the background', async () => {
    let t = 4_000_000
    const cache = make({ now: () => t })
    await cache.getManyOrSet(['e'], () => ({ e: 'v1' }), { ttl: '10s' })
    t += 9_000
    let refreshed = 0
    const got = await cache.getManyOrSet(
      ['e'],
      async () => {
        refreshed++
        return { e: 'v2' }
      },
      { ttl: '10s', eagerRefresh: 0.5 },
    )
    expect(got.get('e')).toBe('v1')
    await waitFor('the eager refresh', () => refreshed === 1)
    await waitFor('the refreshed value', async () => (await cache.get('e')) === 'v2')
  })

  it('a cold L1 reads L2: what another instance loaded is served without the loader, refreshed eagerly past the threshold', async () => {
    let t = 6_000_000
    const namespace = uniquePrefix('gm-cold')
    const first = make({ namespace, now: () => t })
    const second = make({ namespace, now: () => t })
    const loaded = await first.getManyOrSet(['a', 'b'], (keys) => new Map(keys.map((k) => [k, `${k}1`])), {
      ttl: '10s',
    })
    expect([...loaded]).toEqual([
      ['a', 'a1'],
      ['b', 'b1'],
    ])
    t += 9_000
    const asked: string[][] = []
    const got = await second.getManyOrSet(
      ['a', 'b', 'c'],
      async (keys) => {
        asked.push(keys)
        return new Map(keys.map((k) => [k, `${k}2`]))
      },
      { ttl: '10s', eagerRefresh: 0.5 },
    )
    // a and b come from L2 (past the eager threshold: refreshed in the background), c is loaded.
    expect([...got]).toEqual([
      ['a', 'a1'],
      ['b', 'b1'],
      ['c', 'c2'],
    ])
    // c is loaded on its own; a and b go to the (background) eager refresh, never to c's batch.
    expect(asked).toContainEqual(['c'])
    await waitFor(
      'the eager refresh of a and b',
      () => asked.flat().includes('a') && asked.flat().includes('b'),
    )
    await waitFor(
      'the refreshed values in L2',
      async () => (await first.get('b')) === 'b2' || (await second.get('b')) === 'b2',
    )
    expect(second.tierStats().l2.hits).toBeGreaterThanOrEqual(2)
  })

  it('bad arguments are typed errors naming the field', async () => {
    const cache = make()
    const fieldOf = async (p: Promise<unknown>) => {
      try {
        await p
      } catch (err) {
        if (isCacheError(err)) return `${err.code}:${String(err.details.field)}`
        throw err
      }
      return 'ok'
    }
    expect(await fieldOf(cache.getManyOrSet('a' as never, () => ({})))).toBe('E_INVALID_OPTION:keys')
    expect(await fieldOf(cache.getManyOrSet(['a'], () => ({}), { entry: 1 as never }))).toBe(
      'E_INVALID_OPTION:entry',
    )
    expect(await fieldOf(cache.getManyOrSet(['a'], () => ({}), { lease: 1 }))).toBe('E_INVALID_OPTION:lease')
    expect(await fieldOf(cache.getManyOrSet(['a'], () => 5 as never))).toBe('E_INVALID_OPTION:loadMissing')
  })
})
