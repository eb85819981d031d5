import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { renderDeployFiles, sameContent } from '../scripts/gen-dashboards.js'
import {
  exportedMetrics,
  grafanaDashboard,
  metricsReferenced,
  PROMETHEUS_ALERTS,
  prometheusRulesYaml,
} from './dashboards.js'
import { CHANNEL_BINDINGS } from './instrument.js'

const exported = new Set(exportedMetrics().map((m) => m.name))

describe('generated Grafana dashboard and Prometheus alert rules', () => {
  it('are the committed files under docs/deploy (run packages/metrics/scripts/gen-dashboards.ts after a change)', () => {
    for (const { path, text } of renderDeployFiles()) {
      expect(sameContent(path, readFileSync(path, 'utf8'), text), path).toBe(true)
    }
    expect(sameContent('x.json', '{"a":1}', '{"a":2}')).toBe(false)
  })

  it('reference only metrics the package exports, and every exported metric has a panel', () => {
    const dashboard = grafanaDashboard() as { panels: Array<{ targets: Array<{ expr: string }> }> }
    const inDashboard = new Set<string>()
    for (const p of dashboard.panels) {
      for (const t of p.targets) {
        const names = metricsReferenced(t.expr)
        expect(names.length).toBeGreaterThan(0)
        for (const n of names) {
          expect(exported, `${n} in "${t.expr}"`).toContain(n)
          inDashboard.add(n)
        }
      }
    }
    expect([...inDashboard].sort()).toEqual([...exported].sort())
    for (const a of PROMETHEUS_ALERTS) {
      const names = metricsReferenced(a.expr)
      expect(names.length).toBeGreaterThan(0)
      for (const n of names) expect(exported, `${n} in alert ${a.alert}`).toContain(n)
    }
    // Every instrumented channel's metric is exported.
    for (const b of CHANNEL_BINDINGS) expect(exported).toContain(b.metric)
  })

  it('label matchers name labels the metric has', () => {
    const byName = new Map(exportedMetrics().map((m) => [m.name, m]))
    const exprs = [
      ...PROMETHEUS_ALERTS.map((a) => a.expr),
      ...(grafanaDashboard() as { panels: Array<{ targets: Array<{ expr: string }> }> }).panels.flatMap((p) =>
        p.targets.map((t) => t.expr),
      ),
    ]
    for (const expr of exprs) {
      for (const [, name, selector] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
        const m = byName.get(name!.replace(/_(bucket|sum|count)$/, ''))!
        for (const [, label] of selector!.matchAll(/([a-zA-Z_]+)\s*(=|!=|=~|!~)/g)) {
          expect([...m.labels, 'le'], `${label} of ${m.name}`).toContain(label)
        }
      }
    }
  })

  it('docs/observability.md lists every exported metric, Prometheus alert and recommendation id', () => {
    const doc = readFileSync(new URL('../../../docs/observability.md', import.meta.url), 'utf8')
    for (const m of exported) expect(doc).toContain(`| \`${m}\` |`)
    for (const a of PROMETHEUS_ALERTS) expect(doc).toContain(`| \`${a.alert}\` |`)
    const src = readFileSync(new URL('./recommendations.ts', import.meta.url), 'utf8')
    const ids = src.slice(src.indexOf('  id:'), src.indexOf('  severity:')).match(/\| '([a-z-]+)'/g)!
    expect(ids.length).toBeGreaterThan(10)
    for (const id of ids.map((x) => x.slice(3, -1))) expect(doc).toContain(`| \`${id}\` |`)
  })

  it('the rules file is a Prometheus rule group with one rule per alert', () => {
    const yaml = prometheusRulesYaml()
    expect(yaml).toMatch(/^# Generated/)
    expect(yaml.match(/^ {6}- alert: /gm)).toHaveLength(PROMETHEUS_ALERTS.length)
    for (const line of yaml.split('\n').filter((l) => l.includes('expr: '))) {
      expect(() => JSON.parse(line.slice(line.indexOf('expr: ') + 6))).not.toThrow()
    }
    expect(metricsReferenced('rate(x_total[5m]) + sum(y_total)')).toEqual(['x_total', 'y_total'])
  })
})
