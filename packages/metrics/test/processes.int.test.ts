import type { Connection } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOG_RELATIVE_ERROR, Metrics } from '../src/index.js'
import { runChild, sharedConnection, target } from './helpers.js'
import { exactQuantile, samples } from './samples.js'

describe.each(['standalone', 'cluster'] as const)('4 processes writing concurrently on %s', (kind) => {
  const namespace = uniquePrefix('metrics')
  let conn: Connection
  let metrics: Metrics

  beforeAll(async () => {
    conn = await sharedConnection(kind, namespace)
    metrics = new Metrics(conn)
  })
  afterAll(async () => {
    await metrics.close()
    await conn.close()
  })

  it('exact counter totals and a merged p99 within 1% of the exact p99 of all samples', async () => {
    const n = 3000
    const seeds = [11, 22, 33, 44]
    const start = Date.now()
    await Promise.all(
      seeds.map((seed, i) =>
        runChild('./child-writer.ts', [target(kind), namespace, `w${i}`, String(seed), String(n)]),
      ),
    )
    const end = Date.now() + 1
    const step = Math.ceil((end - start + 20_000) / 10_000) * 10_000
    const from = Math.floor((start - 10_000) / 10_000) * 10_000
    const q = (fn: 'increase' | 'p99' | 'p50' | 'count', name: string, labels?: Record<string, string>) =>
      metrics.query({ name, labels, from, to: from + step, step, fn })

    const all = await q('increase', 'http_requests_total')
    expect(all.points).toHaveLength(1)
    expect(all.points[0]!.value).toBe(4 * (n + 2 * (n / 10)))
    const errors = await q('increase', 'http_requests_total', { status: '500' })
    expect(errors.points[0]!.value).toBe(4 * 2 * (n / 10))
    const b = await q('increase', 'http_requests_total', { route: '/b' })
    expect(b.points[0]!.value).toBe(4 * (n / 2))

    const combined = seeds.flatMap((s) => samples(s, n))
    expect((await q('count', 'http_request_duration_seconds')).points[0]!.value).toBe(combined.length)
    for (const [fn, quant] of [
      ['p99', 0.99],
      ['p50', 0.5],
    ] as const) {
      const merged = (await q(fn, 'http_request_duration_seconds')).points[0]!.value!
      const exact = exactQuantile(combined, quant)
      expect(Math.abs(merged - exact) / exact).toBeLessThanOrEqual(LOG_RELATIVE_ERROR)
    }
    // Per route as well: a label filter merges only that route's buckets.
    const routeA = combined.filter((_, i) => (i % n) % 2 === 1)
    const mergedA = (await q('p99', 'http_request_duration_seconds', { route: '/a' })).points[0]!.value!
    expect(Math.abs(mergedA - exactQuantile(routeA, 0.99)) / exactQuantile(routeA, 0.99)).toBeLessThanOrEqual(
      LOG_RELATIVE_ERROR,
    )
  })
})
