import { type Connection, connect, isCacheError } from '@cache/client'
import { codeOf, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache, type TieredCacheOptions } from '../src/index.js'

const { standalone } = inject('redis')
let conn: Connection
let other: Connection
const opened: Array<TieredCache<unknown>> = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(async () => {
  const namespace = uniquePrefix('tiered-fr')
  ;[conn, other] = await Promise.all([
    connect({ url: standalone.url, namespace }),
    connect({ url: standalone.url, namespace }),
  ])
})
afterAll(async () => {
  for (const c of opened) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await Promise.all([conn?.close(), other?.close()])
})

/** A cache with a controllable clock (logical expiry, grace and eager refresh follow it). */
function make(options: Partial<TieredCacheOptions> = {}, clock = { t: Date.now() }) {
  const cache = new TieredCache<unknown>(conn, {
    namespace: uniquePrefix('f'),
    coherence: 'none',
    now: () => clock.t,
    ...options,
  })
  opened.push(cache)
  return { cache, clock }
}

/** A factory whose calls are counted and which resolves (or rejects) when told to. */
function gate<T>() {
  let calls = 0
  let release: (v: T) => void = () => {}
  let fail: (e: unknown) => void = () => {}
  let signal: AbortSignal | undefined
  const factory = ({ signal: s }: { signal: AbortSignal }) => {
    calls++
    signal = s
    return new Promise<T>((resolve, reject) => {
      release = resolve
      fail = reject
    })
  }
  return {
    factory,
    get calls() {
      return calls
    },
    get signal() {
      return signal
    },
    release: (v: T) => release(v),
    fail: (e: unknown) => fail(e),
  }
}

describe('grace, fail-safe, timeouts and eager refresh', () => {
  it('grace: an expired value is served stale to every caller while exactly one refresh runs', async () => {
    const { cache, clock } = make({ grace: '1h' })
    expect(await cache.getOrSet('k', () => 'v1', { ttl: '1s' })).toBe('v1')
    clock.t += 2000
    expect(await cache.get('k')).toBeUndefined() // get never returns expired values
    const g = gate<string>()
    const results = await Promise.all(
      Array.from({ length: 20 }, () => cache.getOrSet('k', g.factory, { ttl: '1m' })),
    )
    expect(results).toEqual(Array(20).fill('v1'))
    await waitFor('the refresh started', () => g.calls === 1)
    await sleep(20)
    expect(g.calls).toBe(1)
    g.release('v2')
    await waitFor('the refreshed value', async () => (await cache.getOrSet('k', g.factory)) === 'v2')
    expect(g.calls).toBe(1)
    expect(cache.tierStats().staleServed).toBeGreaterThanOrEqual(20)
    // Past the grace period the stale value is gone: a plain miss.
    clock.t += 2 * 3_600_000
    expect(await cache.getOrSet('k', () => 'v3', { ttl: '1m' })).toBe('v3')
  })

  it('grace across processes: only one instance refreshes (refresh lease), the other keeps serving stale', async () => {
    const clock = { t: Date.now() }
    const { cache: a } = make({ grace: '1h' }, clock)
    const b = new TieredCache<unknown>(other, {
      namespace: a.namespace,
      coherence: 'none',
      grace: '1h',
      now: () => clock.t,
    })
    opened.push(b)
    await a.set('shared', 'old', { ttl: '1s' })
    clock.t += 1500
    const g = gate<string>()
    expect(await Promise.all([a.getOrSet('shared', g.factory), b.getOrSet('shared', g.factory)])).toEqual([
      'old',
      'old',
    ])
    await waitFor('the refresh started', () => g.calls === 1)
    await sleep(50)
    expect(g.calls).toBe(1)
    g.release('new')
  })

  it('fail-safe: a failing factory gives the stale value and a fail-safe event; without stale or with failSafe off it throws', async () => {
    const { cache, clock } = make({ grace: '1h', timeouts: { soft: '10s' } })
    const events: unknown[] = []
    cache.on('fail-safe', (e) => events.push(e))
    await cache.set('k', 'stale', { ttl: '1s' })
    clock.t += 1500
    const boom = new Error('db down')
    const failing = () => {
      throw boom
    }
    expect(await cache.getOrSet('k', failing)).toBe('stale')
    expect(events).toEqual([{ key: 'k', reason: 'factory' }])
    await expect(cache.getOrSet('k', failing, { failSafe: false })).rejects.toBe(boom)
    await expect(cache.getOrSet('missing', failing)).rejects.toBe(boom)
    expect(await cache.has('missing')).toBe(false)
  })

  it('soft timeout: a slow factory yields the stale value, then finishes in the background and is stored', async () => {
    const { cache, clock } = make({ grace: '1h', timeouts: { soft: '50ms' } })
    await cache.set('k', 'stale', { ttl: '1s' })
    clock.t += 1500
    const g = gate<string>()
    const events: unknown[] = []
    cache.on('fail-safe', (e) => events.push(e))
    expect(await cache.getOrSet('k', g.factory)).toBe('stale')
    expect(events).toEqual([{ key: 'k', reason: 'soft-timeout' }])
    g.release('fresh')
    await waitFor('the background value', async () => (await cache.get('k')) === 'fresh')
    // A fast factory within the soft timeout wins over the stale value.
    clock.t += 700_000
    expect(await cache.getOrSet('k', () => 'faster', { ttl: '1m' })).toBe('faster')
  })

  it('hard timeout: the factory is aborted through its signal and getOrSet rejects with E_FACTORY_TIMEOUT', async () => {
    const { cache, clock } = make({ grace: '1h', timeouts: { hard: '80ms' } })
    const g = gate<string>()
    const err = await cache.getOrSet('slow', g.factory).catch((e: unknown) => e)
    expect(isCacheError(err, 'E_FACTORY_TIMEOUT')).toBe(true)
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({
      key: 'slow',
      timeoutMs: 80,
    })
    expect(g.signal?.aborted).toBe(true)
    expect(await cache.has('slow')).toBe(false)
    // With a stale value and a longer soft timeout, the hard timeout falls back to it (fail-safe).
    await cache.set('slow', 'stale', { ttl: '1s' })
    clock.t += 1500
    const events: unknown[] = []
    cache.on('fail-safe', (e) => events.push(e))
    const g2 = gate<string>()
    expect(await cache.getOrSet('slow', g2.factory, { timeouts: { soft: '10s' } })).toBe('stale')
    expect(events).toEqual([{ key: 'slow', reason: 'hard-timeout' }])
  })

  it('eager refresh: a hit past the fraction of the TTL starts exactly one background refresh', async () => {
    const { cache, clock } = make({ eagerRefresh: 0.5 })
    expect(await cache.getOrSet('e', () => 'v1', { ttl: '10s' })).toBe('v1')
    clock.t += 4000 // below 50%: no refresh
    const g = gate<string>()
    expect(await cache.getOrSet('e', g.factory, { ttl: '10s' })).toBe('v1')
    expect(g.calls).toBe(0)
    clock.t += 2000 // 60% of the TTL
    const hits = await Promise.all(
      Array.from({ length: 20 }, () => cache.getOrSet('e', g.factory, { ttl: '10s' })),
    )
    expect(hits).toEqual(Array(20).fill('v1'))
    await waitFor('the refresh started', () => g.calls === 1)
    await sleep(20)
    expect(g.calls).toBe(1)
    g.release('v2')
    await waitFor(
      'the refreshed value',
      async () => (await cache.getOrSet('e', g.factory, { ttl: '10s' })) === 'v2',
    )
    expect(g.calls).toBe(1)
    // A failing eager refresh keeps the current value and reports the error.
    clock.t += 6000
    const errors: unknown[] = []
    cache.on('refresh-error', (e) => errors.push(e))
    expect(
      await cache.getOrSet('e', () => Promise.reject(new Error('nope')), { ttl: '10s', eagerRefresh: 0.5 }),
    ).toBe('v2')
    await waitFor('the refresh error', () => errors.length === 1)
    await sleep(20)
    expect(errors).toHaveLength(1)
    expect(await cache.get('e')).toBe('v2')
  })

  it('rejects bad options with E_INVALID_OPTION naming the field', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ l1: { maxEntries: 0 } }, 'l1.maxEntries'],
      [{ l1: { ttl: 'soon' } }, 'l1.ttl'],
      [{ coherence: 'psychic' }, 'coherence'],
      [{ grace: -1 }, 'grace'],
      [{ timeouts: { hard: 'forever' } }, 'timeouts.hard'],
      [{ eagerRefresh: 1.5 }, 'eagerRefresh'],
      [{ defaultTtl: 10 }, 'defaultTtl'],
      [{ offlineWrites: 'maybe' }, 'offlineWrites'],
      [{ l3: { nope: true } }, 'l3'],
      [{ colour: 'blue' }, 'colour'],
      [{ connection: {} }, 'connection'],
    ]
    for (const [options, field] of bad) {
      let caught: unknown
      try {
        const { connection = conn, ...rest } = options
        new TieredCache(connection as Connection, rest as TieredCacheOptions)
      } catch (err) {
        caught = err
      }
      expect(isCacheError(caught, 'E_INVALID_OPTION'), field).toBe(true)
      expect((caught as { details: { field: string } }).details.field).toBe(field)
    }
    const { cache } = make()
    expect(await codeOf(cache.getOrSet('k', 'nope' as never))).toBe('E_INVALID_OPTION')
    const err = await cache.getOrSet('k', () => 1, { eagerRefresh: 2 }).catch((e: unknown) => e)
    expect((err as { details: { field: string } }).details.field).toBe('eagerRefresh')
    const err2 = await cache.getOrSet('k', () => 1, { timeouts: { soft: -5 } }).catch((e: unknown) => e)
    expect((err2 as { details: { field: string } }).details.field).toBe('timeouts.soft')
    expect(await codeOf(cache.getOrSet('k', () => undefined as never))).toBe('E_ENCODE')
  })
})
