/**
 * CPU per TieredCache L1 hit (`await tiered.get()`, the metrics bench's loop), each mode in a fresh process
 * per round as the bench runs its contenders, the order alternating between rounds. A child warms up for 1 s,
 * then takes 15 samples of client CPU (process.cpuUsage) over 200,000 gets; it reports their median (or the
 * minimum with STAT=min, steadier on a loaded machine) and this prints the median over rounds per mode.
 * Modes (MODES=a,b,…; default uninstrumented,instrumented): uninstrumented; instrumented (instrument(all));
 * tiered (instrument(['tiered'])); noop (one empty subscriber on cache:tiered:get); noop2 (noop plus a second,
 * different function on cache:client:command: Node's publish() call site turns polymorphic); noop2same (both
 * closures of one function). Children import the source (@cache/source), so no build is needed.
 * Usage: node --import tsx packages/metrics/perf/l1-hit.mts [rounds] [--prof] (--prof: a .cpuprofile per
 * child under /tmp/l1-prof)
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startStandalone } from '@cache/tools'

const CHILD = `
import { connect } from '@cache/client'
import { instrument, Metrics } from '@cache/metrics'
import { TieredCache } from '@cache/tiered'
const [url, mode, namespace] = process.argv.slice(1)
const conn = await connect({ url, namespace })
const metrics = new Metrics(conn, { id: 'l1', flushInterval: '5s' })
import diagnostics from 'node:diagnostics_channel'
const noop = () => {}
if (mode === 'noop' || mode === 'noop2') diagnostics.subscribe('cache:tiered:get', noop)
if (mode === 'noop2') diagnostics.subscribe('cache:client:command', (m) => void m)
const sameOf = (k) => (m) => {
  if (k === 1) return
  void m
}
if (mode === 'noop2same') {
  diagnostics.subscribe('cache:tiered:get', sameOf(1))
  diagnostics.subscribe('cache:client:command', sameOf(2))
}
const stop =
  mode.startsWith('instrumented') ? instrument(metrics, { packages: 'all' })
  : mode === 'tiered' ? instrument(metrics, { packages: ['tiered'] })
  : () => {}
const tiered = new TieredCache(conn, { namespace: 't', coherence: 'none', defaultTtl: '1h' })
const keys = Array.from({ length: 1000 }, (_, i) => 'k' + i)
for (const key of keys) await tiered.set(key, { n: 1 })
let i = 0
const batch = async () => {
  for (let j = 0; j < 1000; j++) await tiered.get(keys[((i * 1000 + j) * 31) % 1000])
  i++
}
const t = performance.now() + 1000
while (performance.now() < t) await batch()
const samples = []
for (let s = 0; s < 15; s++) {
  const c0 = process.cpuUsage()
  for (let b = 0; b < 200; b++) await batch()
  const c = process.cpuUsage(c0)
  samples.push(((c.user + c.system) * 1000) / 200_000)
}
samples.sort((a, b) => a - b)
stop()
await tiered.clear()
await tiered.close()
await metrics.close()
await conn.close()
process.stdout.write(JSON.stringify({ med: samples[7], min: samples[0] }))
`
const rounds = Number(process.argv[2] ?? 10)
const prof = process.argv.includes('--prof')
const root = fileURLToPath(new URL('../../../benchmarks/', import.meta.url))
const redis = await startStandalone()
const run = (mode: string, n: number) =>
  new Promise<{ med: number; min: number }>((resolve, reject) => {
    const flags = ['--conditions=@cache/source', '--import', 'tsx']
    if (prof)
      flags.push('--cpu-prof', '--cpu-prof-dir=/tmp/l1-prof', `--cpu-prof-name=${mode}-${n}.cpuprofile`)
    execFile(
      process.execPath,
      [...flags, '--input-type=module', '-e', CHILD, redis.url, mode, `perf-l1-${process.pid}-${n}-${mode}`],
      { cwd: root },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))),
    )
  })
const modes = (process.env.MODES ?? 'uninstrumented,instrumented').split(',')
const res: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m, []]))
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...modes].reverse() : modes
  for (const mode of order) res[mode]!.push((await run(mode, r))[process.env.STAT === 'min' ? 'min' : 'med'])
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
console.log(JSON.stringify(res))
const base = med(res[modes[0]!]!)
for (const m of modes)
  console.log(`${m}: ${med(res[m]!).toFixed(1)} ns/get (ratio ${(base / med(res[m]!)).toFixed(3)})`)
await redis.stop?.()
process.exit(0)
