/**
 * @cache/tiered against BentoCache 1 and cacheable 2 (with @keyv/redis), same server, same payload, same
 * run: L1 hit get, getOrSet on a hot key, and invalidation propagation (write in A → eviction in B); a
 * multi-tenant mix (10 tenants, 95% reads, each write invalidates its tenant's tag) with invalidation
 * precision (L1 entries removed per invalidation vs a naive flush); getManyOrSet vs sequential getOrSet.
 */
import { type Connection, connect } from '@cache/client'
import { TieredCache } from '@cache/tiered'
import KeyvRedis from '@keyv/redis'
import { createClient } from '@redis/client'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { Cacheable } from 'cacheable'
import { defineSuite, type Measurement, measureInterleaved, type RatioResult, ratio } from '../lib.js'

/** Gets per measured operation: amortises the harness's own per-operation cost over a batch. */
const BATCH = 100

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

/** Write in A, time until B's L1 drops the key; `write` performs the write. */
async function propagation(
  name: string,
  b: TieredCache<unknown>,
  key: string,
  write: (i: number) => Promise<unknown>,
  samples: number,
): Promise<Measurement> {
  const part = key
  const latencies: number[] = []
  for (let i = 0; i < samples; i++) {
    // B holds the key in L1 (retry: the previous write's own invalidation may land after a refill).
    for (let tries = 0; !b.cachedLocally(key) && tries < 1000; tries++) await b.get(key)
    const evicted = new Promise<number>((resolve) => {
      const on = (e: { parts: readonly string[] | 'all' }) => {
        if (e.parts === 'all' || e.parts.includes(part)) {
          b.off('invalidate', on)
          resolve(performance.now())
        }
      }
      b.on('invalidate', on)
    })
    const t0 = performance.now()
    await write(i)
    latencies.push(((await evicted) - t0) * 1000)
  }
  latencies.sort((x, y) => x - y)
  return {
    name,
    concurrency: 1,
    ops: samples,
    opsPerSec: 0,
    p50Us: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Us: Math.round(percentile(latencies, 99) * 10) / 10,
    meanUs: Math.round((latencies.reduce((s, x) => s + x, 0) / latencies.length) * 10) / 10,
  }
}

/**
 * Raw CLIENT TRACKING (RESP2 redirect) in BCAST or default mode: write latency to the invalidation
 * message, and how many messages writes to keys this client never read cause.
 */
async function trackingMode(url: string, bcast: boolean, prefix: string, samples: number) {
  const sub = createClient({ url })
  const tracker = createClient({ url })
  const writer = createClient({ url })
  await Promise.all([sub.connect(), tracker.connect(), writer.connect()])
  const id = await sub.sendCommand<number>(['CLIENT', 'ID'])
  let received = 0
  let wake: (() => void) | undefined
  await sub.subscribe('__redis__:invalidate', () => {
    received++
    wake?.()
  })
  await tracker.sendCommand(
    bcast
      ? ['CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', prefix]
      : ['CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id)],
  )
  const key = `${prefix}hot`
  await writer.set(key, '0')
  const latencies: number[] = []
  for (let i = 0; i < samples; i++) {
    // Default mode only reports keys this connection read since their last invalidation.
    if (!bcast) await tracker.get(key)
    const got = new Promise<number>((resolve) => {
      wake = () => resolve(performance.now())
    })
    const t0 = performance.now()
    await writer.set(key, String(i))
    latencies.push(((await got) - t0) * 1000)
    wake = undefined
  }
  received = 0
  for (let i = 0; i < 1000; i++) await writer.set(`${prefix}other:${i}`, '1')
  await writer.ping() // the messages precede the PING reply on the server side; give them a moment
  await new Promise((r) => setTimeout(r, 50))
  const unrelated = received
  await writer.del([key, ...Array.from({ length: 1000 }, (_, i) => `${prefix}other:${i}`)])
  await Promise.all([sub.close(), tracker.close(), writer.close()])
  latencies.sort((x, y) => x - y)
  return {
    name: `raw CLIENT TRACKING ${bcast ? 'BCAST' : 'default mode'}: write → invalidation message`,
    concurrency: 1,
    ops: samples,
    opsPerSec: 0,
    p50Us: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Us: Math.round(percentile(latencies, 99) * 10) / 10,
    meanUs: Math.round((latencies.reduce((s, x) => s + x, 0) / latencies.length) * 10) / 10,
    extra: { messagesFor1000UnreadKeys: unrelated, readsNeededPerInvalidation: bcast ? 0 : 1 },
  } satisfies Measurement
}

/** Tenants, keys per tenant, and how many tenants write (the others are untouched by invalidations). */
const TENANTS = 10
const PER_TENANT = 50
const WRITERS = 3

/**
 * Multi-tenant mix: reads spread over 10 tenants' keys (getOrSet, tagged per tenant), every 20th call a
 * write of one of tenants 0–2 that invalidates that tenant's tag; the same mix with writes that invalidate
 * nothing (same round trip) is the baseline; BentoCache runs the mix with deleteByTag. Precision: L1
 * entries one tag invalidation removes here and in another process, against a naive flush (all of them).
 */
async function multiTenant(
  connA: Connection,
  connB: Connection,
  bento: BentoCache<{ tiered: ReturnType<typeof bentostore> }>,
  payload: unknown,
  scale: number,
  ratios: RatioResult[],
): Promise<Measurement[]> {
  const mt = new TieredCache<unknown>(connA, { namespace: 'mt', coherence: 'tracking' })
  const peer = new TieredCache<unknown>(connB, { namespace: 'mt', coherence: 'tracking' })
  await Promise.all([mt.ready, peer.ready])
  const tag = (t: number) => `tenant:${t}`
  const keyOf = (t: number, k: number) => `t${t}:k${k}`
  const all = Array.from({ length: TENANTS * PER_TENANT }, (_, i) => ({
    t: i % TENANTS,
    key: keyOf(i % TENANTS, Math.floor(i / TENANTS)),
  }))
  const factory = () => payload
  const warm = async (c: TieredCache<unknown>) => {
    for (let round = 0; round < 50 && !all.every((e) => c.cachedLocally(e.key)); round++) {
      for (const e of all) await c.getOrSet(e.key, factory, { ttl: '1h', tags: [tag(e.t)] })
    }
  }
  await warm(mt)
  await warm(peer)
  // Precision of one invalidation, here and in the other process.
  const before = mt.tierStats().l1.entries
  const peerBefore = peer.tierStats().l1.entries
  await mt.invalidateTags([tag(0)])
  const removed = before - mt.tierStats().l1.entries
  for (let i = 0; i < 100 && peer.tierStats().l1.entries === peerBefore; i++)
    await new Promise((r) => setTimeout(r, 10))
  await new Promise((r) => setTimeout(r, 50))
  const peerRemoved = peerBefore - peer.tierStats().l1.entries
  // The peer (same process, for the precision figure) would otherwise handle every invalidation and every
  // re-store of the mix on the measured event loop: ~56 messages per tag write (50 invalidated keys, ~6
  // re-stores) vs 1 per baseline write, another process's work counted against the tag mix only (the 9:1
  // mix keeps its caches alone for the same reason).
  await peer.close()
  await warm(mt)

  type Counts = { touched: [number, number]; untouched: [number, number] }
  const counts = (): Counts => ({ touched: [0, 0], untouched: [0, 0] })
  const mix =
    (
      write: (t: number, n: number) => Promise<unknown>,
      read: (t: number, key: string) => Promise<unknown>,
      c?: Counts,
    ) =>
    async (_w: number, i: number) => {
      for (let j = 0; j < BATCH; j++) {
        const n = i * BATCH + j
        if (n % 20 === 0) {
          await write((n / 20) % WRITERS, n)
          continue
        }
        const e = all[(n * 7919) % all.length] as { t: number; key: string }
        if (c) {
          const side = e.t < WRITERS ? c.touched : c.untouched
          side[1]++
          if (mt.cachedLocally(e.key)) side[0]++
        }
        await read(e.t, e.key)
      }
    }
  const precise = counts()
  const none = counts()
  const ourRead = (t: number, key: string) => mt.getOrSet(key, factory, { ttl: '1h', tags: [tag(t)] })
  const bentoKeys = new Set<string>()
  const runs = (
    await measureInterleaved(
      [
        {
          name: 'multi-tenant mix: @cache/tiered, writes invalidate their tenant tag',
          op: mix((t) => mt.invalidateTags([tag(t)]), ourRead, precise),
        },
        {
          name: 'multi-tenant mix: @cache/tiered, same writes invalidating nothing',
          op: mix((t, n) => mt.set(`w:${t}`, n), ourRead, none),
        },
        {
          // The structural bound, measured: a refetch of an invalidated key needs at least one round trip
          // (the value is gone from L2 too). Same writes as the baseline, and every read of a written
          // tenant (which the tag mix misses ~90% of the time) costs exactly one GET round trip, no more.
          name: 'multi-tenant mix floor: writes as the baseline, each read of a written tenant one round trip',
          op: mix(
            (t, n) => mt.set(`w:${t}`, n),
            (t, key) => {
              if (t >= WRITERS) return ourRead(t, key)
              const rk = mt.redisKey(key)
              return connA.send(['GET', rk], { key: rk })
            },
          ),
        },
        {
          name: 'multi-tenant mix: BentoCache, writes deleteByTag their tenant tag',
          op: mix(
            (t) => bento.deleteByTag({ tags: [tag(t)] }),
            (t, key) => {
              bentoKeys.add(key)
              return bento.getOrSet({ key: `mt:${key}`, factory, ttl: '1h', tags: [tag(t)] })
            },
          ),
        },
      ],
      { concurrency: 1, durationMs: 6000, rounds: 3, scale },
    )
  ).map((m) => ({ ...m, opsPerSec: m.opsPerSec * BATCH }))
  const [withInv, without, floor, bentoRun] = runs as [Measurement, Measurement, Measurement, Measurement]
  const ratioOf = ([hits, reads]: [number, number]) => (reads === 0 ? 0 : hits / reads)
  withInv.extra = {
    l1HitRatioUntouched: Math.round(ratioOf(precise.untouched) * 10_000) / 10_000,
    l1HitRatioTouched: Math.round(ratioOf(precise.touched) * 10_000) / 10_000,
  }
  without.extra = {
    l1HitRatioUntouched: Math.round(ratioOf(none.untouched) * 10_000) / 10_000,
    l1HitRatioTouched: Math.round(ratioOf(none.touched) * 10_000) / 10_000,
  }
  const precision: Measurement = {
    name: 'invalidation precision: L1 entries removed by one tenant-tag invalidation',
    concurrency: 1,
    ops: 1,
    opsPerSec: 0,
    p50Us: 0,
    p99Us: 0,
    meanUs: 0,
    extra: { entries: before, removedHere: removed, removedInOtherProcess: peerRemoved, naiveFlush: before },
  }
  ratios.push(
    ratio(
      'multi-tenant mix throughput: tag invalidation vs none',
      withInv.opsPerSec,
      without.opsPerSec,
      0.9,
      false,
      `${Math.round((1 - ratioOf(precise.touched)) * 100)}% of the written tenants' reads miss L1 (their entries were just invalidated, in L2 too) and each costs a factory call and 2 round trips (get-or-lease, then SET + tag index + lease release in one pipeline); the baseline has no misses, so the ratio is bound by round trips. Measured floor (baseline writes, one round trip per read of a written tenant, nothing else): ${Math.round((floor.opsPerSec / without.opsPerSec) * 1000) / 1000}x of none, and this mix runs at ${Math.round((withInv.opsPerSec / floor.opsPerSec) * 1000) / 1000}x of that floor: see docs/tiered-cache.md`,
    ),
    ratio(
      'multi-tenant mix: L1 hit ratio of untouched tenants vs none',
      ratioOf(precise.untouched),
      ratioOf(none.untouched),
      0.99,
    ),
    ratio('multi-tenant mix throughput vs BentoCache', withInv.opsPerSec, bentoRun.opsPerSec, 1),
    ratio(
      'invalidation precision: L1 entries removed per tag invalidation vs naive flush',
      Math.max(removed, peerRemoved),
      before,
      1 / TENANTS,
      true,
      'one tenant of 10: exactly its entries (0.1) here and in the other process; a flush removes all (1.0)',
    ),
  )
  await mt.clear()
  await mt.close()
  return [...runs, precision]
}

/** getManyOrSet of 100 keys of which 50 are cached vs 100 sequential getOrSet calls on the same mix. */
async function batchReadThrough(
  conn: Connection,
  payload: unknown,
  scale: number,
  ratios: RatioResult[],
): Promise<Measurement[]> {
  const gm = new TieredCache<unknown>(conn, { namespace: 'gm', coherence: 'none' })
  const cached = Array.from({ length: 50 }, (_, j) => `c:${j}`)
  for (const k of cached) await gm.set(k, payload, { ttl: '1h' })
  let round = 0
  // Cached and missing keys alternate; the missing ones are new every call.
  const keysOf = (who: string) => {
    const r = round++
    return cached.flatMap((k, j) => [k, `${who}:${r}:${j}`])
  }
  const [many, sequential] = (await measureInterleaved(
    [
      {
        name: 'getManyOrSet of 100 keys (50 cached, 50 loaded)',
        op: () =>
          gm.getManyOrSet(keysOf('m'), (missing) => new Map(missing.map((k) => [k, payload])), { ttl: '1m' }),
      },
      {
        name: '100 sequential getOrSet calls (50 cached, 50 loaded)',
        op: async () => {
          for (const k of keysOf('s')) await gm.getOrSet(k, () => payload, { ttl: '1m' })
        },
      },
    ],
    { concurrency: 1, durationMs: 4000, rounds: 3, scale },
  )) as [Measurement, Measurement]
  ratios.push(
    ratio(
      'getManyOrSet 100 keys (50 cached): speed-up vs 100 sequential getOrSet',
      sequential.meanUs,
      many.meanUs,
      5,
    ),
  )
  await gm.clear()
  await gm.close()
  return [many, sequential]
}

export default defineSuite('tiered', async (ctx) => {
  const url = new URL(ctx.standaloneUrl)
  const connection = { host: url.hostname, port: Number(url.port) }
  const namespace = `bench-tiered-${process.pid}`
  const [connA, connB] = await Promise.all([
    connect({ url: ctx.standaloneUrl, namespace }),
    connect({ url: ctx.standaloneUrl, namespace }),
  ])
  const ours = new TieredCache<unknown>(connA, {
    namespace: 'c',
    coherence: 'tracking',
    l1: { maxEntries: 10_000 },
  })
  const peer = new TieredCache<unknown>(connB, { namespace: 'c', coherence: 'tracking' })
  const busA = new TieredCache<unknown>(connA, { namespace: 'bus', coherence: 'bus' })
  const busB = new TieredCache<unknown>(connB, { namespace: 'bus', coherence: 'bus' })
  await Promise.all([ours.ready, peer.ready, busA.ready, busB.ready])

  const bento = new BentoCache({
    default: 'tiered',
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false }))
        .useL2Layer(redisDriver({ connection, prefix: `${namespace}-bento` }))
        .useBus(redisBusDriver({ connection })),
    },
  })
  const cacheable = new Cacheable({
    secondary: new KeyvRedis(ctx.standaloneUrl),
    namespace: `${namespace}-cacheable`,
  })

  const payload = {
    id: 42,
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    roles: ['admin', 'editor'],
    score: 9.5,
  }
  const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`)
  for (const k of keys) {
    await ours.set(k, payload, { ttl: '1h' })
    await bento.set({ key: k, value: payload, ttl: '1h' })
    await cacheable.set(k, payload, '1h')
  }
  // Warm every L1 (own writes are kept; a write that raced an invalidation is not: read until L1 holds them).
  for (let round = 0; round < 50 && !keys.every((k) => ours.cachedLocally(k)); round++) {
    for (const k of keys) await ours.get(k)
  }
  for (const k of keys) {
    await bento.get({ key: k })
    await cacheable.get(k)
  }

  const batch = (get: (k: string) => Promise<unknown>) => async (w: number, i: number) => {
    for (let j = 0; j < BATCH; j++) await get(keys[(w * 7 + i * BATCH + j) % keys.length] as string)
  }
  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []
  const perGet = (m: Measurement): Measurement => ({
    ...m,
    opsPerSec: m.opsPerSec * BATCH,
    p50Us: Math.round((m.p50Us / BATCH) * 1000) / 1000,
    p99Us: Math.round((m.p99Us / BATCH) * 1000) / 1000,
    meanUs: Math.round((m.meanUs / BATCH) * 1000) / 1000,
  })

  const hits = (
    await measureInterleaved(
      [
        { name: 'L1 hit get: @cache/tiered', op: batch((k) => ours.get(k)) },
        { name: 'L1 hit get: BentoCache', op: batch((k) => bento.get({ key: k })) },
        { name: 'L1 hit get: cacheable', op: batch((k) => cacheable.get(k)) },
      ],
      { concurrency: 1, durationMs: 6000, rounds: 3, scale: ctx.scale },
    )
  ).map(perGet)
  measurements.push(...hits)
  const [hOurs, hBento, hCacheable] = hits as [Measurement, Measurement, Measurement]
  ratios.push(ratio('L1 hit get throughput vs BentoCache', hOurs.opsPerSec, hBento.opsPerSec, 10))
  ratios.push(ratio('L1 hit get throughput vs cacheable', hOurs.opsPerSec, hCacheable.opsPerSec, 10))

  const factory = () => payload
  await ours.getOrSet('hot', factory, { ttl: '1h' })
  await bento.getOrSet({ key: 'hot', factory, ttl: '1h' })
  for (let i = 0; i < 50 && !ours.cachedLocally('hot'); i++)
    await ours.getOrSet('hot', factory, { ttl: '1h' })
  const hot = (
    await measureInterleaved(
      [
        {
          name: 'getOrSet hot key: @cache/tiered',
          op: batch(() => ours.getOrSet('hot', factory, { ttl: '1h' })),
        },
        {
          name: 'getOrSet hot key: BentoCache',
          op: batch(() => bento.getOrSet({ key: 'hot', factory, ttl: '1h' })),
        },
      ],
      { concurrency: 1, durationMs: 4000, rounds: 3, scale: ctx.scale },
    )
  ).map(perGet)
  measurements.push(...hot)
  ratios.push(ratio('getOrSet hot key throughput vs BentoCache', hot[0]!.opsPerSec, hot[1]!.opsPerSec, 5))

  // Propagation: a write by another client → eviction from this process's L1.
  const samples = Math.max(50, Math.round(1000 * ctx.scale))
  const plain = createClient({ url: ctx.standaloneUrl })
  await plain.connect()
  const rk = peer.redisKey('prop')
  await ours.set('prop', 0)
  const viaLibrary = await propagation(
    'invalidation propagation, tracking (BCAST), write by another TieredCache',
    peer,
    'prop',
    (i) => ours.set('prop', i),
    samples,
  )
  const viaPlain = await propagation(
    'invalidation propagation, tracking (BCAST), write by a plain node-redis client',
    peer,
    'prop',
    () => plain.pExpire(rk, 3_600_000),
    samples,
  )
  await busA.set('prop', 0)
  const viaBus = await propagation(
    'invalidation propagation, bus (pub/sub)',
    busB,
    'prop',
    (i) => busA.set('prop', i),
    samples,
  )
  measurements.push(viaLibrary, viaPlain, viaBus)
  // Which tracking mode: the same raw measurement in BCAST and default mode.
  measurements.push(
    await trackingMode(ctx.standaloneUrl, true, `${namespace}-raw-bcast:`, samples),
    await trackingMode(ctx.standaloneUrl, false, `${namespace}-raw-default:`, samples),
  )

  // What does tracking cost a writer? A 9:1 read/write mix in one process, tracking (own writes on the NOLOOP
  // tracker, kept in L1) vs no coherence (which keeps the writer's value in L1 and sends nothing).
  // Both caches alone in their namespace, the same but for the coherence mode: with `ours` the peer cache
  // (same namespace, same process) would handle every write's invalidation on this event loop, another
  // process's work counted as ours.
  const solo = new TieredCache<unknown>(connA, { namespace: 'solo', coherence: 'none' })
  const tracked = new TieredCache<unknown>(connA, { namespace: 'solo-tracked', coherence: 'tracking' })
  await tracked.ready
  const mixKeys = keys.slice(0, 20)
  for (const k of mixKeys) await solo.set(k, payload, { ttl: '1h' })
  for (const k of mixKeys) await tracked.set(k, payload, { ttl: '1h' })
  // Every 10th call writes (cycling over the keys), the others read (cycling too).
  const mix = (c: TieredCache<unknown>) => async (_w: number, i: number) => {
    for (let j = 0; j < BATCH; j++) {
      const n = i * BATCH + j
      if (n % 10 === 0) await c.set(mixKeys[(n / 10) % mixKeys.length] as string, payload, { ttl: '1h' })
      else await c.get(mixKeys[n % mixKeys.length] as string)
    }
  }
  const mixed = (
    await measureInterleaved(
      [
        { name: '9:1 read/write mix: tracking (own writes kept: NOLOOP tracker)', op: mix(tracked) },
        { name: '9:1 read/write mix: no coherence (own writes kept in L1)', op: mix(solo) },
      ],
      // 10 alternating rounds of 1 s (were 3 of 1 s): the two sides differ by a few us of client CPU per write
      // on a ~25-150 us round trip, and with 3 rounds one noisy round moved the ratio by 0.1-0.15 (0.837 in
      // the last quiet run, 1.00 in an earlier one).
      { concurrency: 1, durationMs: 10_000, rounds: 10, scale: ctx.scale },
    )
  ).map(perGet)
  measurements.push(...mixed)
  ratios.push(
    ratio(
      'tiered 9:1 read/write mix under tracking vs no coherence (own writes kept in L1)',
      (mixed[0] as Measurement).opsPerSec,
      (mixed[1] as Measurement).opsPerSec,
      0.9,
      false,
      'own writes go as a plain SET on the NOLOOP tracker and stay in L1 (no echo); reads are L1 hits in both, so the ratio compares the two write paths (one round trip each)',
    ),
  )
  await Promise.all([solo.clear(), tracked.clear()])
  await Promise.all([solo.close(), tracked.close()])
  ratios.push(
    ratio(
      'invalidation propagation p99 (ms), tracking',
      viaLibrary.p99Us / 1000,
      1,
      5,
      true,
      'from the start of the write in A to the eviction in B, loopback',
    ),
  )
  ratios.push(ratio('invalidation propagation p99 (ms), bus', viaBus.p99Us / 1000, 1, 5, true))

  measurements.push(...(await multiTenant(connA, connB, bento, payload, ctx.scale, ratios)))
  measurements.push(...(await batchReadThrough(connA, payload, ctx.scale, ratios)))

  await ours.clear()
  await busA.clear()
  await bento.clear()
  await cacheable.clear()
  await Promise.all([ours.close(), peer.close(), busA.close(), busB.close()])
  await bento.disconnectAll()
  await cacheable.disconnect()
  await plain.close()
  await Promise.all([connA.close(), connB.close()])
  return {
    suite: 'tiered',
    description:
      'L1/L2 tiered caches on one local redis-server, same 5-field object payload over 100 keys. @cache/tiered (CLIENT TRACKING BCAST coherence; L1 keeps values by reference, L2 msgpack) vs BentoCache 1.6 (memory L1 with serialize: false, i.e. by reference, its fastest setting; Redis L2 + Redis bus) vs cacheable 2 (CacheableMemory primary, @keyv/redis secondary). Each measured op is a batch of 100 sequential awaited calls (figures are per call). Propagation: write in A (another client) → eviction event in B, measured from the start of the write; raw CLIENT TRACKING BCAST vs default mode measured the same way (default mode needs a read per key after each invalidation; BCAST also reports keys never read). A 9:1 read/write mix compares tracking (own writes kept in L1 via the NOLOOP tracker) with coherence none, each cache alone in its namespace. Multi-tenant mix (10 tenants × 50 keys, 95% reads via getOrSet tagged per tenant, every 20th call a write of tenants 0–2 invalidating its tenant tag; baseline: the same writes invalidating nothing; BentoCache with deleteByTag) with the L1 hit ratio of untouched tenants (3–9) and the L1 entries one tag invalidation removes here and in another process vs a naive flush. getManyOrSet of 100 keys (50 cached) vs 100 sequential getOrSet. Targets: L1 hit ≥ 10× both peers, getOrSet hot key ≥ 5× BentoCache, propagation p99 < 5 ms, multi-tenant throughput ≥ 0.9× and untouched hit ratio ≥ 0.99× the no-invalidation mix, precision 0.1 (one tenant of 10), getManyOrSet ≥ 5× sequential getOrSet.',
    settings: {
      keys: keys.length,
      batch: BATCH,
      samples,
      l1Serialization: 'none (by reference) for @cache/tiered and BentoCache',
    },
    measurements,
    ratios,
  }
})
