/**
 * Writes docs/deploy/grafana-dashboard.json and docs/deploy/prometheus-alerts.yml from the @cache/metrics
 * definitions (every metric `instrument()` records). `--check` fails when a committed file is stale. Run:
 * `node --conditions=@cache/source --import tsx packages/metrics/scripts/gen-dashboards.ts`
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { grafanaDashboard, prometheusRulesYaml } from '../src/dashboards.js'

/** True when `current` is the generated `text` (JSON compared parsed: the committed file is biome-formatted). */
export function sameContent(path: string, current: string, text: string): boolean {
  if (!path.endsWith('.json')) return current === text
  try {
    return JSON.stringify(JSON.parse(current)) === JSON.stringify(JSON.parse(text))
  } catch {
    return false
  }
}

/** The generated files and their contents. */
export function renderDeployFiles(): Array<{ path: string; text: string }> {
  return [
    {
      path: fileURLToPath(new URL('../../../docs/deploy/grafana-dashboard.json', import.meta.url)),
      text: `${JSON.stringify(grafanaDashboard(), null, 2)}\n`,
    },
    {
      path: fileURLToPath(new URL('../../../docs/deploy/prometheus-alerts.yml', import.meta.url)),
      text: prometheusRulesYaml(),
    },
  ]
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check')
  let stale = false
  for (const { path, text } of renderDeployFiles()) {
    let current = ''
    try {
      current = readFileSync(path, 'utf8')
    } catch {}
    if (sameContent(path, current, text)) continue
    if (check) {
      console.error(`${path} is stale: run packages/metrics/scripts/gen-dashboards.ts`)
      stale = true
    } else {
      writeFileSync(path, text)
      // The repository formats JSON with biome; the generated model is compared parsed.
      if (path.endsWith('.json'))
        execFileSync('npx', ['biome', 'format', '--write', path], { stdio: 'ignore' })
      console.log(`wrote ${path}`)
    }
  }
  if (stale) process.exit(1)
}
