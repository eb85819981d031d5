/**
 * `npm run chaos`: every fault on standalone, Sentinel and Cluster against the example service; writes
 * benchmarks/results/chaos.json, benchmarks/results/chaos.md and the table in docs/reliability.md.
 * Usage: npm run chaos [-- standalone sentinel cluster] [--fault=sigstop,...] [--users=6] [--quick]
 * Exits 1 when a check failed.
 */
import { mkdirSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineInfo } from '../../benchmarks/lib.js'
import { serverVersion } from '../src/harness/index.js'
import { writeReport } from './report.js'
import { runChaos } from './runner.js'
import type { TopologyKind } from './topology.js'
import type { ChaosReport, FaultResult } from './types.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const args = process.argv.slice(2)
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const quick = args.includes('--quick')
const kinds = args.filter((a) => !a.startsWith('--')) as TopologyKind[]
const topologies: TopologyKind[] = kinds.length ? kinds : ['standalone', 'sentinel', 'cluster']
for (const k of topologies) {
  if (!['standalone', 'sentinel', 'cluster'].includes(k)) {
    console.error(
      `[@cache/tools] chaos: unknown topology ${JSON.stringify(k)} (standalone, sentinel, cluster)`,
    )
    process.exit(2)
  }
}

const settings = {
  topologies,
  faults: flag('fault')?.split(','),
  users: Number(flag('users') ?? 6),
  thinkMs: 60,
  warmMs: quick ? 1500 : 4000,
  afterMs: quick ? 1000 : 3000,
  commandTimeoutMs: 500,
  connectTimeoutMs: 1000,
  jobWaitMs: 60_000,
}
const started = Date.now()
const loadBefore = Math.round(loadavg()[0]! * 100) / 100
const results: FaultResult[] = await runChaos({ ...settings, log: (line) => console.log(line) })
const loadAfter = Math.round(loadavg()[0]! * 100) / 100
const cores = cpus().length
const report: ChaosReport = {
  machine: machineInfo(serverVersion()),
  load: { before: loadBefore, after: loadAfter, cores },
  noisy: Math.max(loadBefore, loadAfter) > cores,
  quick,
  durationMs: Date.now() - started,
  settings,
  results,
}
const dir = join(root, 'benchmarks/results')
mkdirSync(dir, { recursive: true })
writeReport(report, {
  json: join(dir, 'chaos.json'),
  markdown: join(dir, 'chaos.md'),
  docs: join(root, 'docs/reliability.md'),
})
const failed = results.flatMap((r) =>
  r.checks.filter((c) => !c.ok).map((c) => `${r.topology}/${r.fault}: ${c.name}`),
)
console.log(
  `\n[chaos] ${results.length} scenarios in ${Math.round(report.durationMs / 1000)} s; ${failed.length ? `FAILED: ${failed.join('; ')}` : 'every check passed'}; results in benchmarks/results/chaos.json`,
)
process.exit(failed.length ? 1 : 0)
