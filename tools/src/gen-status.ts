/**
 * Writes status.json and summary.json from real results: the vitest JSON report (test-results.json),
 * the coverage summary (coverage/coverage-summary.json), each package's coverage.json floor and the
 * benchmark result files. Run by `npm test` after the tests; never edit the outputs by hand.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Status, StatusSchema, type Summary, SummarySchema } from './status-schema.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const read = <T>(file: string): T | undefined =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined

interface VitestReport {
  testResults: Array<{ name: string; assertionResults: Array<{ status: string }> }>
}
type Metric = { pct: number }
type CoverageSummary = Record<
  string,
  { lines: Metric; branches: Metric; functions: Metric; statements: Metric }
>
interface BenchFile {
  ratios: Array<{ name: string; value: number; target: number; lowerIsBetter?: boolean; pass: boolean }>
}

const report = read<VitestReport>(join(root, 'test-results.json'))
if (!report) {
  console.error('[gen-status] test-results.json missing: run the tests first (npm test)')
  process.exit(1)
}
const coverage = read<CoverageSummary>(join(root, 'coverage', 'coverage-summary.json')) ?? {}
const benchDir = join(root, 'benchmarks', 'results')
const benches = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ suite: f.replace(/\.json$/, ''), data: read<BenchFile>(join(benchDir, f))! }))
  : []

function round(n: number): number {
  return Math.round(n * 100) / 100
}

const packages: Status['packages'] = []
let files = 0
for (const dir of readdirSync(join(root, 'packages')).sort()) {
  const manifest = read<{ name: string; version: string }>(join(root, 'packages', dir, 'package.json'))
  if (!manifest) continue
  const prefix = join(root, 'packages', dir)
  const tests = { passed: 0, failed: 0, skipped: 0 }
  for (const file of report.testResults.filter((t) => t.name.startsWith(`${prefix}/`))) {
    files++
    for (const a of file.assertionResults) {
      if (a.status === 'passed') tests.passed++
      else if (a.status === 'failed') tests.failed++
      else tests.skipped++
    }
  }
  const totals: Record<'lines' | 'branches' | 'functions' | 'statements', [number, number]> = {
    lines: [0, 0],
    branches: [0, 0],
    functions: [0, 0],
    statements: [0, 0],
  }
  let any = false
  for (const [file, c] of Object.entries(coverage)) {
    if (file === 'total' || relative(join(prefix, 'src'), file).startsWith('..')) continue
    any = true
    for (const k of Object.keys(totals) as Array<keyof typeof totals>) {
      const m = c[k] as Metric & { covered?: number; total?: number }
      totals[k][0] += m.covered ?? 0
      totals[k][1] += m.total ?? 0
    }
  }
  const pct = (k: keyof typeof totals) =>
    totals[k][1] === 0 ? 100 : round((100 * totals[k][0]) / totals[k][1])
  packages.push({
    name: manifest.name,
    version: manifest.version,
    tests,
    coverage: any
      ? {
          lines: pct('lines'),
          branches: pct('branches'),
          functions: pct('functions'),
          statements: pct('statements'),
        }
      : null,
    coverageFloor: read(join(prefix, 'coverage.json')) ?? null,
    benchmarks: benches
      .filter((b) => b.suite === dir || b.suite.startsWith(`${dir}-`))
      .flatMap((b) =>
        b.data.ratios.map((r) => ({
          target: r.name,
          ratio: r.value,
          wanted: `${r.lowerIsBetter ? '<=' : '>='} ${r.target}`,
          met: r.pass,
        })),
      ),
  })
}
files += report.testResults.filter((t) => !t.name.startsWith(join(root, 'packages'))).length
const all = report.testResults.flatMap((t) => t.assertionResults)
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
})()
const generatedAt = new Date().toISOString()
const status: Status = StatusSchema.parse({
  generatedAt,
  generatedBy: 'tools/src/gen-status.ts',
  commit,
  packages,
  totals: {
    passed: all.filter((a) => a.status === 'passed').length,
    failed: all.filter((a) => a.status === 'failed').length,
    skipped: all.filter((a) => a.status !== 'passed' && a.status !== 'failed').length,
    files,
  },
})
const total = coverage.total
const targets = packages.flatMap((p) => p.benchmarks.map((b) => ({ ...b, pkg: p.name })))
const summary: Summary = SummarySchema.parse({
  generatedAt,
  generatedBy: 'tools/src/gen-status.ts',
  packages: packages.length,
  tests: { passed: status.totals.passed, failed: status.totals.failed },
  coverage: total
    ? {
        lines: round(total.lines.pct),
        branches: round(total.branches.pct),
        functions: round(total.functions.pct),
        statements: round(total.statements.pct),
      }
    : null,
  benchmarkTargets: {
    met: targets.filter((t) => t.met).length,
    missed: targets.filter((t) => !t.met).length,
  },
  missedTargets: targets
    .filter((t) => !t.met)
    .map((t) => `${t.pkg}: ${t.target} = ${t.ratio} (wanted ${t.wanted})`),
  green: status.totals.failed === 0,
})
writeFileSync(join(root, 'status.json'), `${JSON.stringify(status, null, 2)}\n`)
writeFileSync(join(root, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
console.log(
  `[gen-status] wrote status.json and summary.json: ${targets.length} benchmark targets, ${summary.benchmarkTargets.missed} missed`,
)
// The plain closing line CI reads.
console.log(
  `tests: ${status.totals.passed} passed, ${status.totals.failed} failed, ${status.totals.skipped} skipped`,
)
