/**
 * @cache/session's express-session store against connect-redis 9 (the store users pick today), same server,
 * same run, measured at the store calls express-session makes per request (the middleware around them is
 * the same for both): a request that changes its session (get + set) and one that only reads it with a
 * rolling cookie (get + touch), without and with encryption of the session data, and get + touch with a touch
 * threshold (`touchAfter: '1m'`: a touch within a minute of the last write is not sent); then "log out everywhere":
 * revoking the sessions of one user among 100,000 through our per-user index vs connect-redis's only way,
 * `all()` (SCAN + MGET of every session) and `destroy()` of the user's.
 */
import { randomBytes } from 'node:crypto'
import { connect } from '@cache/client'
import { Keyring } from '@cache/security'
import { SessionManager } from '@cache/session'
import { SessionStore } from '@cache/session/express'
import { RedisStore } from 'connect-redis'
import type session from 'express-session'
import { createClient } from 'redis'
import { defineSuite, type Measurement, measureInterleaved, type RatioResult, ratio } from '../lib.js'

type Sess = session.SessionData & { views: number; userId: string; cart: number[] }
type CbStore = {
  get(sid: string, cb: (err?: unknown, s?: Sess) => void): void
  set(sid: string, s: Sess, cb: (err?: unknown) => void): void
  touch(sid: string, s: Sess, cb: (err?: unknown) => void): void
}

const MAX_AGE = 30 * 60_000
const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))
const fresh = (userId: string): Sess =>
  ({
    cookie: { originalMaxAge: MAX_AGE, expires: new Date(Date.now() + MAX_AGE), httpOnly: true, path: '/' },
    views: 0,
    userId,
    cart: [1, 2, 3],
  }) as unknown as Sess

/** One request of express-session with `rolling: true`: load, then save when changed, else touch. */
function request(store: CbStore, sid: string, change: boolean): Promise<void> {
  return call<Sess>((cb) => store.get(sid, cb)).then((sess) => {
    sess.cookie.expires = new Date(Date.now() + MAX_AGE)
    if (!change) return call((cb) => store.touch(sid, sess, cb))
    sess.views++
    return call((cb) => store.set(sid, sess, cb))
  })
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/** What a run of requests cost per request: this process's CPU, redis-server's CPU and socket bytes (INFO). */
interface Cost {
  cpuUsPerRequest: number
  redisCpuUsPerRequest: number
  bytesInPerRequest: number
  bytesOutPerRequest: number
  socketReadsPerRequest: number
}

/**
 * CPU time of this process per request (user + system, µs) over `n` requests at concurrency 64 (after a
 * warm-up of n / 4): on a shared machine a steadier figure than throughput, which also depends on what else
 * runs. With it, from INFO of the server: its CPU per request (used_cpu_sys + used_cpu_user), the bytes
 * it read and wrote per request and its socket reads per request (how many requests share one write of the
 * client); `info` is a client of the same server (its own INFO calls are a few bytes in the totals).
 */
async function costPerRequest(
  n: number,
  fn: (i: number) => Promise<unknown>,
  info: () => Promise<string>,
): Promise<Cost> {
  await inParallel(Math.ceil(n / 4), 64, fn)
  const stat = (text: string, k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(text)?.[1] ?? 0)
  const snap = async () => {
    const t = await info()
    return {
      cpu: (stat(t, 'used_cpu_sys') + stat(t, 'used_cpu_user')) * 1e6,
      inB: stat(t, 'total_net_input_bytes'),
      outB: stat(t, 'total_net_output_bytes'),
      reads: stat(t, 'total_reads_processed'),
    }
  }
  const s0 = await snap()
  const before = process.cpuUsage()
  await inParallel(n, 64, fn)
  const used = process.cpuUsage(before)
  const s1 = await snap()
  const per = (x: number, digits = 1) => Math.round((x / n) * 10 ** digits) / 10 ** digits
  return {
    cpuUsPerRequest: per(used.user + used.system),
    redisCpuUsPerRequest: per(s1.cpu - s0.cpu),
    bytesInPerRequest: per(s1.inB - s0.inB, 0),
    bytesOutPerRequest: per(s1.outB - s0.outB, 0),
    socketReadsPerRequest: per(s1.reads - s0.reads, 3),
  }
}

async function inParallel(n: number, concurrency: number, fn: (i: number) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++)
    }),
  )
}

export default defineSuite('session', async (ctx) => {
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-sess' })
  const client = createClient({ url: ctx.standaloneUrl })
  await client.connect()
  const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
  const oursStore = new SessionStore(conn, { tenant: 'b', userId: (s) => (s as Sess).userId })
  const oursEncStore = new SessionStore(conn, {
    namespace: 'enc',
    tenant: 'b',
    userId: (s) => (s as Sess).userId,
    encryption: keyring,
  })
  const oursLazyStore = new SessionStore(conn, {
    namespace: 'lazy',
    tenant: 'b',
    userId: (s) => (s as Sess).userId,
    touchAfter: '1m',
  })
  // The stores as express-session calls them (callbacks; a loaded session is a Sess here).
  const ours = oursStore as unknown as CbStore
  const oursEnc = oursEncStore as unknown as CbStore
  const oursLazy = oursLazyStore as unknown as CbStore
  const peer = new RedisStore({ client, prefix: 'bench-cr:' }) as unknown as CbStore
  const concurrency = 64
  const opts = { concurrency, durationMs: 6000, rounds: 3, scale: ctx.scale }
  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []

  const sids = Array.from({ length: 1000 }, (_, i) => `sid-${i}-${randomBytes(8).toString('hex')}`)
  for (const store of [ours, oursEnc, oursLazy, peer]) {
    await inParallel(sids.length, 32, (i) => call((cb) => store.set(sids[i]!, fresh(`u${i % 100}`), cb)))
  }
  const sid = (w: number, i: number) => sids[(w * 131 + i) % sids.length]!

  for (const change of [true, false]) {
    const label = change ? 'get + set' : 'get + touch'
    const contenders = [
      {
        name: `request (${label}): @cache/session`,
        op: (w: number, i: number) => request(ours, sid(w, i), change),
      },
      {
        name: `request (${label}): connect-redis 9`,
        op: (w: number, i: number) => request(peer, sid(w, i), change),
      },
      {
        name: `request (${label}): @cache/session encrypted`,
        op: (w: number, i: number) => request(oursEnc, sid(w, i), change),
      },
    ]
    // The touch threshold only changes requests that do not change the session.
    if (!change) {
      contenders.push({
        name: `request (${label}): @cache/session touchAfter 1m`,
        op: (w: number, i: number) => request(oursLazy, sid(w, i), change),
      })
    }
    const measured = await measureInterleaved(contenders, opts)
    for (const [k, contender] of contenders.entries()) {
      const n = Math.max(4000, Math.round(20_000 * ctx.scale))
      measured[k]!.extra = {
        ...(await costPerRequest(
          n,
          (i) => contender.op(i % 64, i),
          () => client.info(),
        )),
      }
    }
    const [a, b, c, d] = measured
    measurements.push(a!, b!, c!)
    ratios.push(ratio(`request (${label}) c=64 vs connect-redis`, a!.opsPerSec, b!.opsPerSec, 1.0))
    ratios.push(ratio(`request (${label}) encrypted c=64 vs connect-redis`, c!.opsPerSec, b!.opsPerSec, 0.85))
    if (d) {
      measurements.push(d)
      ratios.push(
        ratio(
          `request (${label}) touchAfter 1m c=64 vs connect-redis`,
          d.opsPerSec,
          b!.opsPerSec,
          1.0,
          false,
          'touch threshold: the Redis expiry may lag the rolling cookie by up to 1m',
        ),
      )
    }
  }

  // Log out everywhere: one user's 10 sessions among `total`.
  const total = Math.max(10_000, Math.round(100_000 * ctx.scale))
  const manager = new SessionManager(conn, { namespace: 'rev', idleTimeout: '1h', sweepInterval: false })
  const crStore = new RedisStore({ client, prefix: 'bench-rev:' })
  await inParallel(total, 64, (i) => manager.create({ tenant: 'b', userId: `u${i % 10_000}` }))
  await inParallel(total, 64, (i) => crStore.set(`r${i}`, fresh(`u${i % 10_000}`)))
  const target = 'target'
  const oursTimes: number[] = []
  const peerTimes: number[] = []
  for (let round = 0; round < 5; round++) {
    for (let j = 0; j < 10; j++) {
      await manager.create({ tenant: 'b', userId: target })
      await crStore.set(`t${round}-${j}`, fresh(target))
    }
    oursTimes.push(
      await timeIt(async () => {
        if ((await manager.revokeUser('b', target)) !== 10) throw new Error('revokeUser missed sessions')
      }),
    )
    peerTimes.push(
      await timeIt(async () => {
        const all = (await crStore.all()) as Array<Sess & { id: string }>
        const mine = all.filter((s) => s.userId === target)
        if (mine.length !== 10) throw new Error('connect-redis all() missed sessions')
        await Promise.all(mine.map((s) => crStore.destroy(s.id)))
      }),
    )
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  const toMeasurement = (name: string, ms: number[]): Measurement => ({
    name,
    concurrency: 1,
    ops: ms.length,
    opsPerSec: Math.round(1000 / median(ms)),
    p50Us: Math.round(median(ms) * 1000),
    p99Us: Math.round(Math.max(...ms) * 1000),
    meanUs: Math.round((ms.reduce((s, x) => s + x, 0) / ms.length) * 1000),
    extra: { sessions: total },
  })
  measurements.push(
    toMeasurement(`revoke a user's 10 sessions among ${total}: @cache/session revokeUser`, oursTimes),
    toMeasurement(`revoke a user's 10 sessions among ${total}: connect-redis all() + destroy`, peerTimes),
  )
  ratios.push(
    ratio(
      `revoke one user among ${total} sessions vs connect-redis SCAN`,
      median(peerTimes),
      median(oursTimes),
      100,
    ),
  )

  await Promise.all([oursStore.close(), oursEncStore.close(), oursLazyStore.close(), manager.close()])
  await conn.close()
  await client.quit()
  return {
    suite: 'session',
    description:
      'express-session store calls per request at concurrency 64 on one local redis-server: @cache/session SessionStore (plain and encrypted with AES-256-GCM) vs connect-redis 9 on node-redis, a request that changes its session (get + set) and one that does not (get + touch, rolling; also with touchAfter 1m); then revoking one user’s 10 sessions among 100,000 (20,000 with --quick): revokeUser (per-user index) vs connect-redis all() (SCAN + MGET) + destroy. Targets: >= 1.0x throughput plain, >= 0.85x encrypted, >= 100x on revocation.',
    settings: { concurrency, rounds: 3, sessions: sids.length, revokeAmong: total },
    // extra of each request measurement: this process's CPU per request (steadier than throughput on a
    // shared machine), redis-server's CPU, bytes in/out and socket reads per request (INFO).
    measurements,
    ratios,
  }
})
