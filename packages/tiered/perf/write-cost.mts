// Client CPU (user + system, from process.cpuUsage) and wall time per set() under coherence "tracking" (own
// writes on the NOLOOP tracker) vs "none" (through the L2 RedisCache); the suite's 9:1 read/write mix per
// call; and the floors of both write paths: a bare SET on a NOLOOP tracker of our own (bare, with the old
// Promise.race timer, with withDeadline, with one watchdog timer) and a bare SET on the guarded connection.
// Contenders in alternating rounds in one process, sequential calls (c=1) as in the tiered suite; paired
// per-round ratios against the last contender of each section:
//   node --conditions=@cache/source --import tsx packages/tiered/perf/write-cost.mts
// ROUNDS (10); OPS per contender per round (20000; the mix runs 5x as many calls); ONLY=set|mix|floor runs
// one section; OLD=<dir of a built dist/esm> adds that build's tracking cache (A/B of a change: copy
// dist/esm aside, e.g. to packages/tiered/perf/dist/old-esm, before rebuilding); PROFILE=<section>:<name>
// (set:tracking, floor:tracker SET) runs only that contender (for --cpu-prof or strace -c); PROFILE_DIR=<dir>
// saves a CPU profile of every measured round there; EXTRA=1 keeps the suite's other caches open (idle);
// NO_TIMEOUT=1 connects with commandTimeout 0.
import { connect, withDeadline } from '@cache/client'
import { defaultCodec } from '@cache/core'
import { TieredCache } from '@cache/tiered'
import { startStandalone } from '@cache/tools'
import { createClient } from '@redis/client'

const ROUNDS = Number(process.env.ROUNDS ?? 10)
const OPS = Number(process.env.OPS ?? 20_000)

const server = await startStandalone()
// NO_TIMEOUT=1: commandTimeout 0 (no deadline on either write path: what do the deadlines cost?).
const conn = await connect({
  url: server.url,
  namespace: 'bench-tiered',
  ...(process.env.NO_TIMEOUT ? { commandTimeout: 0 } : {}),
})
const payload = {
  id: 42,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  roles: ['admin', 'editor'],
  score: 9.5,
}
const caches: Record<string, TieredCache<unknown>> = {
  tracking: new TieredCache<unknown>(conn, { namespace: 'solo-tracked', coherence: 'tracking' }),
}
if (process.env.OLD) {
  // A/B of a change: the tracking cache of another build (copy dist/esm aside before rebuilding).
  const mod = (await import(`${process.env.OLD}/index.js`)) as typeof import('@cache/tiered')
  caches['old tracking'] = new mod.TieredCache<unknown>(conn, {
    namespace: 'solo-old',
    coherence: 'tracking',
  })
}
caches.none = new TieredCache<unknown>(conn, { namespace: 'solo', coherence: 'none' })
// EXTRA=1: the other caches the suite keeps open during its mix (two tracking caches of another namespace,
// one on a second connection, and two bus caches), idle: does their presence change the ratio?
const conn2 = process.env.EXTRA ? await connect({ url: server.url, namespace: 'bench-tiered' }) : undefined
const extra = conn2
  ? [
      new TieredCache<unknown>(conn, { namespace: 'c', coherence: 'tracking' }),
      new TieredCache<unknown>(conn2, { namespace: 'c', coherence: 'tracking' }),
      new TieredCache<unknown>(conn, { namespace: 'bus', coherence: 'bus' }),
      new TieredCache<unknown>(conn2, { namespace: 'bus', coherence: 'bus' }),
    ]
  : []
await Promise.all([...Object.values(caches), ...extra].map((c) => c.ready))
const keys = Array.from({ length: 20 }, (_, i) => `user:${i}`)
for (const c of Object.values(caches)) for (const k of keys) await c.set(k, payload, { ttl: '1h' })

// The floors: a tracker set up as TrackingCoherence sets up its own (RESP2, REDIRECT to a subscriber, BCAST
// PREFIX, NOLOOP), and the guarded connection.
const sub = createClient({ url: server.url, RESP: 2 })
const tracker = createClient({ url: server.url, RESP: 2 })
await Promise.all([sub.connect(), tracker.connect()])
// Keys of their own: a write to the tracked cache's keys would be another client's write to it (and the
// tracked cache's writes would reach this subscriber), each an invalidation message handled in this process.
const prefix = 'bench-tiered:floor:v:{'
const subId = String(await sub.sendCommand(['CLIENT', 'ID']))
await sub.subscribe('__redis__:invalidate', () => {})
await tracker.sendCommand([
  'CLIENT',
  'TRACKING',
  'ON',
  'REDIRECT',
  subId,
  'BCAST',
  'PREFIX',
  prefix,
  'NOLOOP',
])
const rks = keys.map((k) => `${prefix}${k}}`)
const bytes = defaultCodec.encode([payload, Date.now() + 3_600_000, 3_600_000]) as Buffer
const timed = <R,>(reply: Promise<R>, ms: number) => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms)
  })
  return Promise.race([reply, timeout]).finally(() => clearTimeout(timer))
}
// One watchdog timer while commands are in flight instead of a timer per command (replies arrive in order).
let inflight = 0
let progress = 0
let armed = false
const settled = () => {
  inflight--
  progress = performance.now()
}
const check = () => {
  armed = false
  if (inflight === 0) return
  const left = progress + 1000 - performance.now()
  if (left <= 0) throw new Error('tracker stuck')
  armed = true
  setTimeout(check, left)
}
const watched = <R,>(reply: Promise<R>) => {
  if (inflight++ === 0) progress = performance.now()
  if (!armed) {
    armed = true
    setTimeout(check, 1000)
  }
  reply.then(settled, settled)
  return reply
}
const setArgs = (i: number) => ['SET', rks[i % rks.length] as string, bytes, 'PX', '3600000']
const connKeys = keys.map((k) => `bench-tiered:floor-conn:v:{${k}}`)
const connArgs = (i: number) => ['SET', connKeys[i % connKeys.length] as string, bytes, 'PX', '3600000']

type Op = (i: number) => Promise<unknown>
const sections: Record<string, Array<{ name: string; op: Op }>> = {
  set: Object.entries(caches).map(([name, c]) => ({
    name,
    op: (i: number) => c.set(keys[i % keys.length] as string, payload, { ttl: '1h' }),
  })),
  // The suite's mix: every 10th call writes, the others read (L1 hits).
  mix: Object.entries(caches).map(([name, c]) => ({
    name,
    op: (i: number) =>
      i % 10 === 0
        ? c.set(keys[(i / 10) % keys.length] as string, payload, { ttl: '1h' })
        : c.get(keys[i % keys.length] as string),
  })),
  floor: [
    ...Object.entries(caches).map(([name, c]) => ({
      name: `${name} set`,
      op: (i: number) => c.set(keys[i % keys.length] as string, payload, { ttl: '1h' }),
    })),
    { name: 'tracker SET, timer race', op: (i: number) => timed(tracker.sendCommand(setArgs(i)), 1000) },
    {
      name: 'tracker SET, withDeadline',
      op: (i: number) => withDeadline(tracker.sendCommand(setArgs(i)), 1000, 'SET'),
    },
    { name: 'tracker SET, watchdog', op: (i: number) => watched(tracker.sendCommand(setArgs(i))) },
    { name: 'tracker SET', op: (i: number) => tracker.sendCommand(setArgs(i)) },
    {
      // Keys outside the floor tracker's prefix: its writes would be another client's, one invalidation
      // message (and socket read) each for the floor's subscriber.
      name: 'conn.send SET',
      op: (i: number) => conn.send(connArgs(i), { key: connKeys[i % connKeys.length] as string }),
    },
  ],
}

// PROFILE_DIR=<dir>: every measured round is CPU-profiled and saved there as <section>-<contender>-<round>
// .cpuprofile, the contenders profiled under the same conditions (the rounds alternate).
const profileDir = process.env.PROFILE_DIR
const inspector = profileDir ? new (await import('node:inspector/promises')).Session() : undefined
inspector?.connect()
await inspector?.post('Profiler.enable')
await inspector?.post('Profiler.setSamplingInterval', { interval: 100 })

async function profiled<R>(file: string | undefined, body: () => Promise<R>): Promise<R> {
  if (!inspector || !file) return body()
  await inspector.post('Profiler.start')
  const out = await body()
  const { profile } = await inspector.post('Profiler.stop')
  const { writeFileSync } = await import('node:fs')
  writeFileSync(`${profileDir}/${file}.cpuprofile`, JSON.stringify(profile))
  return out
}

/** redis-server CPU (user + sys) so far, in us. */
async function serverCpu() {
  const info = String(await tracker.sendCommand(['INFO', 'cpu']))
  const at = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return (at('used_cpu_user') + at('used_cpu_sys')) * 1e6
}

async function run(op: Op, n: number) {
  const s0 = await serverCpu()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await op(i)
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  const server = ((await serverCpu()) - s0) / n
  return {
    cpuUs: (cpu.user + cpu.system) / n,
    userUs: cpu.user / n,
    wallUs: (wall * 1000) / n,
    serverUs: server,
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2
    ? (s[s.length >> 1] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}
const r2 = (x: number) => Math.round(x * 100) / 100
const r3 = (x: number) => Math.round(x * 1000) / 1000

if (process.env.PROFILE) {
  const [section, name] = process.env.PROFILE.split(':')
  const c = sections[section as string]?.find((x) => x.name === name)
  if (!c) throw new Error(`PROFILE=<section>:<contender>, e.g. set:tracking, got ${process.env.PROFILE}`)
  await run(c.op, OPS * ROUNDS)
} else {
  for (const [what, contenders] of Object.entries(sections)) {
    if (process.env.ONLY && process.env.ONLY !== what) continue
    const n = what === 'mix' ? OPS * 5 : OPS
    for (const c of contenders) await run(c.op, n / 4)
    const cpu = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    const user = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    const redis = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    const pairedUser = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    const wall = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    // Paired per round against the last contender: CPU ratio, and throughput (its wall time over ours).
    const pairedCpu = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    const pairedTput = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
    const base = contenders[contenders.length - 1]?.name as string
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? contenders : [...contenders].reverse()
      const round = new Map<string, { cpuUs: number; userUs: number; wallUs: number; serverUs: number }>()
      for (const c of order) {
        const m = await profiled(`${what}-${c.name.replace(/\W+/g, '_')}-${r}`, () => run(c.op, n))
        round.set(c.name, m)
        cpu.get(c.name)?.push(m.cpuUs)
        user.get(c.name)?.push(m.userUs)
        redis.get(c.name)?.push(m.serverUs)
        wall.get(c.name)?.push(m.wallUs)
      }
      const b = round.get(base) as { cpuUs: number; userUs: number; wallUs: number; serverUs: number }
      for (const [name, m] of round) {
        pairedCpu.get(name)?.push(m.cpuUs / b.cpuUs)
        pairedUser.get(name)?.push(m.userUs / b.userUs)
        pairedTput.get(name)?.push(b.wallUs / m.wallUs)
      }
    }
    for (const c of contenders) {
      const line = `${what} ${c.name.padEnd(24)} cpu/call ${r2(median(cpu.get(c.name) ?? []))} us (user ${r2(median(user.get(c.name) ?? []))}), redis-server ${r2(median(redis.get(c.name) ?? []))} us, wall/call ${r2(median(wall.get(c.name) ?? []))} us`
      const pc = pairedCpu.get(c.name) ?? []
      const pt = pairedTput.get(c.name) ?? []
      console.log(
        c.name === base
          ? line
          : `${line}  vs ${base}: cpu ${r3(median(pc))} [${pc.map(r3).join(' ')}] user ${r3(median(pairedUser.get(c.name) ?? []))} throughput ${r3(median(pt))}`,
      )
    }
  }
}
await Promise.all(Object.values(caches).map((c) => c.clear()))
await Promise.all([...Object.values(caches), ...extra].map((c) => c.close()))
await conn2?.close()
await Promise.all([sub.close(), tracker.close()])
await conn.close()
await server.stop()
