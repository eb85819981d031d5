// CPU per encode, decode and encode+decode of the core suite's sample objects (100 B, 1 KiB, 10 KiB,
// 100 KiB by their JSON length) against JSON to and from UTF-8 bytes, in a process that has node-redis
// loaded (its `class extends String` slows String.prototype.charCodeAt process-wide, as in the suite), with
// the stored bytes of each:
//   node --import tsx packages/core/perf/codec-cost.mts   (reads the built dist, as the suite does)
// ROUNDS (12) alternating rounds of MS (150) ms of CPU per case and size; SIZES=100,1024 (a subset);
// ONLY=name,name (cases whose name contains one). Prints medians (us per op) and, per case, the median of its
// round-by-round ratio to JSON's encode+decode (a load change hits both cases of a round about alike).
import '@redis/client'
import { createCodec } from '@cache/core'
import { compressSync, uncompressSync } from 'lz4-napi'

const ROUNDS = Number(process.env.ROUNDS ?? 12)
const MS = Number(process.env.MS ?? 150)
const SIZES = (process.env.SIZES ?? '100,1024,10240,102400').split(',').map(Number)
const ONLY = process.env.ONLY?.split(',')

/** The core suite's `sampleObject(bytes)`. */
function sampleObject(bytes: number): Record<string, unknown> {
  const out: Record<string, unknown> = { id: 42, name: 'Ada Lovelace', active: true, tags: ['a', 'b', 'c'] }
  let i = 0
  while (JSON.stringify(out).length < bytes) {
    out[`field${i}`] = { n: i * 1.5, text: `value number ${i} with some words`, list: [i, i + 1, i + 2] }
    i++
  }
  return out
}

/** CPU microseconds per call of `f`, over at least `MS` ms of wall time. */
function cpuPerOp(f: () => unknown): number {
  let n = 0
  const t0 = process.cpuUsage()
  const w0 = performance.now()
  while (performance.now() - w0 < MS) {
    for (let i = 0; i < 10; i++) f()
    n += 10
  }
  const d = process.cpuUsage(t0)
  return (d.user + d.system) / n
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1] as number
const lz4 = createCodec()
const plain = createCodec({ compressThreshold: false })
// LZ4 at every size, to show what it costs and saves below the default threshold too.
const always = createCodec({ compressThreshold: 0 })

for (const size of SIZES) {
  const doc = sampleObject(size)
  const json = Buffer.from(JSON.stringify(doc))
  const packed = plain.encode(doc)
  const compressed = always.encode(doc)
  const body = packed.subarray(6)
  const block = compressSync(body)
  const cases: Record<string, () => unknown> = {
    'JSON encode+decode': () => JSON.parse(Buffer.from(JSON.stringify(doc)).toString()),
    'JSON encode': () => Buffer.from(JSON.stringify(doc)),
    'JSON decode': () => JSON.parse(json.toString()),
    'msgpack encode+decode': () => plain.decode(plain.encode(doc)),
    'msgpack encode': () => plain.encode(doc),
    'msgpack decode': () => plain.decode(packed),
    'msgpack+LZ4 encode+decode': () => always.decode(always.encode(doc)),
    'msgpack+LZ4 encode': () => always.encode(doc),
    'msgpack+LZ4 decode': () => always.decode(compressed),
    'default codec encode+decode': () => lz4.decode(lz4.encode(doc)),
    'lz4-napi compressSync': () => compressSync(body),
    'lz4-napi uncompressSync': () => uncompressSync(block),
  }
  const names = Object.keys(cases).filter(
    (n) => !ONLY || n === 'JSON encode+decode' || ONLY.some((o) => n.includes(o)),
  )
  const runs: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (const n of names) cpuPerOp(cases[n] as () => unknown)
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of r % 2 ? [...names].reverse() : names) runs[n]?.push(cpuPerOp(cases[n] as () => unknown))
  }
  console.log(
    `\n${size} B object: JSON ${json.length} B, msgpack ${packed.length} B, msgpack+LZ4 ${compressed.length} B (${(compressed.length / json.length).toFixed(3)} of JSON), default codec ${lz4.encode(doc).length} B`,
  )
  const base = runs['JSON encode+decode'] as number[]
  for (const n of names) {
    const r = runs[n] as number[]
    const line = `  ${n.padEnd(28)} ${median(r).toFixed(3).padStart(9)} us`
    console.log(
      n.endsWith('encode+decode')
        ? `${line}   JSON/this ${median(r.map((v, i) => (base[i] as number) / v)).toFixed(3)}`
        : line,
    )
  }
}
