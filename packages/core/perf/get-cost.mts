// Client and redis-server CPU per read at concurrency C (default 64), contenders in alternating rounds in one
// process, with the bench suite's loop (performance.now per op, latency pushed):
//   node --import tsx packages/core/perf/get-cost.mts   (reads the built dist, as the suite does)
// ROUNDS (8), OPS per contender per round (60000), C (64), ONLY=name,name (a subset), PROFILE=name (only that
// contender, its measured rounds profiled into PROFILE_OUT/get-cost.cpuprofile). Floors without @cache code:
// `bare GET` is raw node-redis GET as Buffers, `bare MGET` coalesces a tick's reads into one MGET by hand and
// resolves the Buffers undecoded, `bare MGET+decode` adds our codec's decode of each value, `bare
// MGET+msgpackr` the decode before msgpack-read.ts, `... split` sends half of a tick's reads a turn later.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { crc32, decode, RedisCache } from '@cache/core'
import { Packr } from 'msgpackr'
import { KEYS, runWorkers, setup } from './common.mjs'

const C = Number(process.env.C ?? 64)
const ROUNDS = Number(process.env.ROUNDS ?? 8)
const OPS = Number(process.env.OPS ?? 60_000)

const { conn, raw, rawBuf, cache, keys, redisKeys, stop } = await setup()
const plain = new RedisCache<object>(conn, { namespace: 'c', defaultTtl: '1h', coalesce: false })

// The codec's decode before msgpack-read.ts (header and CRC checks, then msgpackr for every value): the A/B
// of the reader in the same process.
const packr = new Packr({ useRecords: false, moreTypes: true, int64AsType: 'auto' } as never)
const FLAG_CRC = Array.from({ length: 256 }, (_, i) => crc32(Uint8Array.of(i)))
function decodeWithMsgpackr(b: Buffer): unknown {
  if (b[0] !== 0xca) throw new Error('bad header')
  const payload = new Uint8Array(b.buffer, b.byteOffset + 6, b.length - 6)
  if (crc32(payload, FLAG_CRC[b[1] as number]) !== b.readUInt32BE(2)) throw new Error('checksum')
  return packr.unpack(b, { start: 6, end: b.length } as never)
}

/** A hand-written same-tick MGET coalescer on bare node-redis: the floor of coalescing. */
function bareCoalescer(decodeEach: boolean | ((b: Buffer) => unknown), split = false) {
  const decodeOne = typeof decodeEach === 'function' ? decodeEach : decode
  type P = { rk: string; resolve: (v: unknown) => void }
  let pending: P[] = []
  const send = (batch: P[]) => {
    rawBuf.mGet(batch.map((p) => p.rk)).then((replies) => {
      for (let i = 0; i < batch.length; i++) {
        const b = replies[i] as unknown as Buffer | null
        ;(batch[i] as P).resolve(decodeEach && b ? decodeOne(b) : b)
      }
    })
  }
  const flush = () => {
    const batch = pending
    pending = []
    if (!split || batch.length < 16) return send(batch)
    // Half now, half one event-loop turn later: the server reads the second while the client decodes the first.
    const half = batch.length >> 1
    send(batch.slice(0, half))
    setImmediate(send, batch.slice(half))
  }
  return (rk: string) =>
    new Promise((resolve) => {
      if (pending.push({ rk, resolve }) === 1) process.nextTick(flush)
    })
}
const bareMget = bareCoalescer(false)
const bareMgetDecode = bareCoalescer(true)
const bareMgetDecodeSplit = bareCoalescer(true, true)
const bareMgetMsgpackr = bareCoalescer(decodeWithMsgpackr)

const pick = (w: number, i: number) => (w * 7919 + i * 31) % KEYS
const contenders: Array<{ name: string; op: (w: number, i: number) => Promise<unknown> }> = [
  { name: 'bare GET', op: (w, i) => rawBuf.get(redisKeys[pick(w, i)] as string) },
  { name: 'RedisCache get', op: (w, i) => cache.get(keys[pick(w, i)] as string) },
  { name: 'bare MGET', op: (w, i) => bareMget(redisKeys[pick(w, i)] as string) },
  { name: 'bare MGET+decode', op: (w, i) => bareMgetDecode(redisKeys[pick(w, i)] as string) },
  { name: 'bare MGET+msgpackr', op: (w, i) => bareMgetMsgpackr(redisKeys[pick(w, i)] as string) },
  {
    name: 'bare MGET+decode split',
    op: (w, i) => bareMgetDecodeSplit(redisKeys[pick(w, i)] as string),
  },
  { name: 'RedisCache get, coalesce off', op: (w, i) => plain.get(keys[pick(w, i)] as string) },
]
const only = process.env.PROFILE ?? process.env.ONLY
const chosen = only ? contenders.filter((c) => only.split(',').includes(c.name)) : contenders

/** redis-server CPU (us), socket reads and commands (GET + MGET calls) so far. */
async function serverCounters() {
  const info = String(await raw.info('all'))
  const f = (k: string) =>
    Number(new RegExp(`${k}${k.endsWith('=') ? '' : ':'}([0-9.]+)`).exec(info)?.[1] ?? 0)
  return {
    cpu: (f('used_cpu_user') + f('used_cpu_sys')) * 1e6,
    reads: f('total_reads_processed'),
    calls: f('cmdstat_get:calls=') + f('cmdstat_mget:calls='),
  }
}

/** The bench suite's loop: C workers, OPS operations in all, latency recorded per op. */

interface Round {
  client: number
  server: number
  opsPerSec: number
  reads: number
  calls: number
}
const results = new Map<string, Round[]>()
for (const c of chosen) await runWorkers(C, c.op, 5_000)
// PROFILE: a CPU profile of the measured rounds only (not the start-up, the fill or the warm-up).
const inspector = process.env.PROFILE ? new Session() : undefined
if (inspector) {
  inspector.connect()
  await inspector.post('Profiler.enable')
  await inspector.post('Profiler.start')
}
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? chosen : [...chosen].reverse()
  for (const c of order) {
    const s0 = await serverCounters()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const n = (await runWorkers(C, c.op, OPS)).length
    const wall = performance.now() - t0
    const cu = process.cpuUsage(c0)
    const s1 = await serverCounters()
    const list = results.get(c.name) ?? []
    list.push({
      client: (cu.user + cu.system) / n,
      server: (s1.cpu - s0.cpu) / n,
      opsPerSec: (n / wall) * 1000,
      reads: (s1.reads - s0.reads) / n,
      calls: (s1.calls - s0.calls) / n,
    })
    results.set(c.name, list)
  }
}
if (inspector) {
  const { profile } = await inspector.post('Profiler.stop')
  const file = `${process.env.PROFILE_OUT ?? '/tmp'}/get-cost.cpuprofile`
  writeFileSync(file, JSON.stringify(profile))
  console.log('profile written to', file)
}
const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const base = med((results.get('bare GET') ?? []).map((x) => x.client))
console.log(`c=${C}, ${ROUNDS} rounds of ${OPS}, medians (min-max) of client / server CPU us per read`)
for (const [name, list] of results) {
  const cl = list.map((x) => x.client)
  const sv = list.map((x) => x.server)
  const ops = list.map((x) => x.opsPerSec)
  console.log(
    `${name.padEnd(30)} client ${med(cl).toFixed(2)} (${Math.min(...cl).toFixed(2)}-${Math.max(...cl).toFixed(2)})` +
      `  server ${med(sv).toFixed(2)}  ops/s ${Math.round(med(ops))}` +
      `  socket reads/op ${med(list.map((x) => x.reads)).toFixed(3)}  commands/op ${med(list.map((x) => x.calls)).toFixed(3)}` +
      (base ? `  client vs bare GET ${(med(cl) / base).toFixed(2)}` : ''),
  )
}
// Paired per round (the same round's two contenders ran back to back): ours minus the floor.
const pairs: Array<[string, string]> = [
  ['RedisCache get', 'bare MGET+decode'],
  ['bare MGET+decode', 'bare MGET'],
  ['bare MGET+msgpackr', 'bare MGET'],
  ['bare MGET+decode', 'bare MGET+msgpackr'],
  ['RedisCache get', 'bare GET'],
]
for (const [a, b] of pairs) {
  const ra = results.get(a)
  const rb = results.get(b)
  if (!ra || !rb) continue
  const d = ra.map((x, i) => x.client - (rb[i] as Round).client)
  const q = ra.map((x, i) => x.client / (rb[i] as Round).client)
  console.log(
    `${a} - ${b}: client ${med(d).toFixed(2)} us per read, ratio ${med(q).toFixed(3)} (paired medians)`,
  )
}
await plain.close()
await stop()
process.exit(0)
