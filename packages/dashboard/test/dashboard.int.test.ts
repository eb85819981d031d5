import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Connection, connect } from '@cache/client'
import { LeaderElection } from '@cache/locks'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dashboard, PAGES, type PageData } from '../src/index.js'
import { type Seeded, seed } from './seed.js'

const redis = inject('redis')
const TOKEN = 'integration-token-0123456789'

describe('dashboard over node:http on standalone', () => {
  const namespace = uniquePrefix('dash')
  let conn: Connection
  let seeded: Seeded
  let server: Server
  let base: string
  const audited: Array<Record<string, unknown>> = []

  beforeAll(async () => {
    conn = await connect({ url: redis.standalone.url, namespace })
    seeded = await seed(conn)
    const handler = dashboard({
      conn,
      metrics: seeded.metrics,
      auth: { token: TOKEN },
      basePath: '/dashboard',
      caches: { catalog: seeded.cache },
      sessions: seeded.sessions,
      audit: { record: async (e) => audited.push(e as Record<string, unknown>) },
      liveInterval: '500ms',
    })
    server = createServer(handler)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dashboard`
  }, 120_000)
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((r) => server?.close(r))
    await seeded?.close()
    await conn?.close()
  })

  const auth = { Authorization: `Bearer ${TOKEN}` }
  const page = async (name: string) => {
    const r = await fetch(`${base}/api/pages/${name}?range=5m`, { headers: auth })
    expect(r.status).toBe(200)
    return (await r.json()) as PageData
  }

  it('refuses every page and API without the token, with the security headers', async () => {
    const html = await fetch(`${base}/`)
    expect(html.status).toBe(401)
    expect(await html.text()).toContain('name="token"')
    const csp = html.headers.get('content-security-policy')!
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(html.headers.get('x-content-type-options')).toBe('nosniff')
    for (const p of PAGES) {
      expect((await fetch(`${base}/api/pages/${p}`)).status).toBe(401)
      expect(
        (await fetch(`${base}/api/pages/${p}`, { headers: { Authorization: 'Bearer wrong-token-000' } }))
          .status,
      ).toBe(401)
    }
    expect((await fetch(`${base}/api/live/overview`)).status).toBe(401)
  })

  it('the login form sets an HttpOnly SameSite=Strict cookie that then opens the pages', async () => {
    const bad = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'nope-nope-nope' }),
      redirect: 'manual',
    })
    expect(bad.status).toBe(401)
    const ok = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
    })
    expect(ok.status).toBe(303)
    const cookie = ok.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).not.toContain(TOKEN)
    const r = await fetch(`${base}/queues`, { headers: { Cookie: cookie.split(';')[0]! } })
    expect(r.status).toBe(200)
    expect(await r.text()).toContain('data-page="queues"')
  })

  it('serves uPlot and the front end from the package', async () => {
    const js = await fetch(`${base}/assets/uplot.js`)
    expect(js.headers.get('content-type')).toContain('javascript')
    expect(await js.text()).toContain('uPlot')
    expect((await fetch(`${base}/assets/nothing.js`)).status).toBe(404)
  })

  it('overview and caches: reads, hit ratio and command charts from @cache/metrics', async () => {
    const o = await page('overview')
    const ops = o.charts.find((c) => c.id === 'ops')!
    expect(ops.series[0]!.values.some((v) => v !== null && v > 0)).toBe(true)
    const ratio = o.charts.find((c) => c.id === 'hit-ratio')!
    expect(ratio.series.map((s) => s.label)).toContain('redis')
    const c = await page('caches')
    const row = c.tables.find((t) => t.id === 'cache-tiers')!.rows.find((r) => r[0] === 'catalog')!
    // 60 reads of 40 stored products: 40 hits, 20 misses.
    expect(row.slice(4)).toEqual([40, 20, 0])
    expect(row[3]).toBe('66.7%')
    expect(c.context.caches).toEqual(['catalog'])
  })

  it('limits, locks, queues, sessions, server: the state of each package', async () => {
    const l = await page('limits')
    const rule = l.tables.find((t) => t.id === 'limit-rules')!.rows.find((r) => r[0] === 'api')!
    // 30 requests over 3 keys against 20 per key a minute: all allowed.
    expect(rule[2]).toBe(30)
    const k = await page('locks')
    const held = k.tables.find((t) => t.id === 'locks-held')!.rows
    expect(held[0]!.slice(0, 2)).toEqual(['invoice:42', 'billing-worker-1'])
    await expect
      .poll(async () => (await page('locks')).tables.find((t) => t.id === 'locks-waiting')!.rows.length, {
        timeout: 30_000,
      })
      .toBe(1)
    const q = await page('queues')
    const counts = q.tables.find((t) => t.id === 'queue-counts')!
    expect(counts.columns.slice(-2)).toEqual(['WAIT P99', 'RUN P99'])
    // 3 dead letters (failed), then 5 jobs completed by the seed's worker.
    expect(counts.rows.map((r) => r.slice(0, 8))).toEqual([['emails', 0, 0, 0, 0, 5, 3, 3]])
    // Wait/run p99 of those jobs, every process: the histograms the queue's completed messages fed.
    const to = Date.now() + 1
    const p99 = async (name: string) =>
      (
        await seeded.metrics.query({
          name,
          fn: 'p99',
          labels: { queue: 'emails' },
          from: to - 300_000,
          to,
          step: '5m',
        })
      ).points.find((p) => p.value !== null)?.value
    expect(await p99('cache_queue_wait_seconds')).toBeGreaterThan(0)
    expect(await p99('cache_queue_run_seconds')).toBeGreaterThanOrEqual(0)
    for (const cell of counts.rows[0]!.slice(8)) expect(String(cell)).toMatch(/^\d+(\.\d+)? (ms|s)$/)
    for (const id of ['queue-wait', 'queue-run']) {
      const c = q.charts.find((x) => x.id === id)!
      expect(c.series.map((x) => x.label)).toEqual([`emails ${id.slice(6)} p99`])
      expect(c.series[0]!.values.some((v) => v !== null)).toBe(true)
    }
    expect(q.tables.find((t) => t.id === 'queue-dlq')!.rows).toHaveLength(3)
    const s = await page('sessions')
    const tenants = Object.fromEntries(s.tables[0]!.rows.map((r) => [r[0], r[1]]))
    expect(tenants).toEqual({ acme: 4, globex: 2 })
    const v = await page('server')
    expect(v.tables.find((t) => t.id === 'server-nodes')!.rows.length).toBeGreaterThan(0)
    expect(v.charts[0]!.series[0]!.values.length).toBeGreaterThan(0)
  })

  it('the live stream pushes a new reading each interval', async () => {
    const ac = new AbortController()
    const r = await fetch(`${base}/api/live/overview?range=5m`, { headers: auth, signal: ac.signal })
    expect(r.headers.get('content-type')).toContain('text/event-stream')
    const reader = r.body!.getReader()
    let text = ''
    while ((text.match(/event: data/g) ?? []).length < 2)
      text += new TextDecoder().decode((await reader.read()).value)
    ac.abort()
    expect(text).toContain('id: 2')
  })

  it('actions need the CSRF token, are audited, and act: DLQ replay, tag invalidation, session revocation', async () => {
    const post = (action: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}/api/actions/${action}`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
      })
    const html = await (await fetch(`${base}/`, { headers: auth })).text()
    const csrf = /data-csrf="([^"]+)"/.exec(html)![1]!
    const noCsrf = await post('dlq-replay', { queue: 'emails', all: true })
    expect(noCsrf.status).toBe(403)
    expect(await seeded.queue.deadLetters.count()).toBe(3)
    const bad = await post('dlq-replay', { queue: 'emails' }, { 'X-CSRF-Token': csrf })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('E_INVALID_ARGUMENT')

    const [first] = await seeded.queue.deadLetters.list({ limit: 1 })
    const one = await post('dlq-replay', { queue: 'emails', ids: [first!.id] }, { 'X-CSRF-Token': csrf })
    expect(await one.json()).toMatchObject({ replayed: 1, skipped: 0 })
    expect(await seeded.queue.deadLetters.count()).toBe(2)

    const inv = await post('invalidate-tag', { cache: 'catalog', tag: 'shelf:1' }, { 'X-CSRF-Token': csrf })
    expect(await inv.json()).toEqual({ removed: 10 })
    expect(await seeded.cache.get('product:1')).toBeUndefined()
    expect(await seeded.cache.get('product:2')).toBeDefined()

    const rev = await post('revoke-user', { tenant: 'acme', user: 'u1' }, { 'X-CSRF-Token': csrf })
    expect(((await rev.json()) as { revoked: number }).revoked).toBeGreaterThan(0)
    expect(await seeded.sessions.listByUser('acme', 'u1')).toEqual([])

    expect(audited.map((a) => [a.action, a.outcome])).toEqual([
      ['dashboard.dlq-replay', 'error'],
      ['dashboard.dlq-replay', 'ok'],
      ['dashboard.invalidate-tag', 'ok'],
      ['dashboard.revoke-user', 'ok'],
    ])
    expect(audited[3]).toMatchObject({ actor: 'dashboard', subject: 'u1' })
  })

  it("shows the alert rules' states and the leaders of the named elections", async () => {
    const election = new LeaderElection(conn, 'scheduler', { ttl: '10s' })
    const elected = new Promise((r) => election.once('elected', r))
    await election.start()
    await elected
    const alerts = seeded.metrics.alerts(
      [
        {
          name: 'command-rate',
          expr: { fn: 'rate', name: 'cache_redis_command_duration_seconds' },
          above: 1e9,
        },
      ],
      { notify: { channel: false }, interval: '1h' },
    )
    const handler = dashboard({
      conn,
      metrics: seeded.metrics,
      auth: {},
      alerts,
      elections: ['scheduler', 'nobody'],
    })
    const s = createServer(handler)
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
      const get = async (p: string) => (await (await fetch(`${url}/api/pages/${p}`)).json()) as PageData
      const overview = await get('overview')
      const states = await alerts.states()
      expect(overview.tables.find((t) => t.id === 'alerts')!.rows.map((r) => r.slice(0, 2))).toEqual([
        ['command-rate', states['command-rate']!.state],
      ])
      expect(overview.figures.find((f) => f.label === 'alerts firing')?.value).toBe('0')
      const leaders = (await get('locks')).tables.find((t) => t.id === 'locks-leaders')!.rows
      expect(leaders.map((r) => r.slice(0, 3))).toEqual([
        ['scheduler', election.id, election.term],
        ['nobody', 'none', '-'],
      ])
    } finally {
      await new Promise((r) => s.close(r))
      await alerts.close()
      await election.close()
    }
  })

  it('readOnly refuses the actions and the page shows none', async () => {
    const ro = dashboard({ conn, metrics: seeded.metrics, auth: {}, readOnly: true })
    const s = createServer(ro)
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
      const html = await (await fetch(`${url}/queues`)).text()
      expect(html).toContain('data-read-only="true"')
      const csrf = /data-csrf="([^"]+)"/.exec(html)![1]!
      const r = await fetch(`${url}/api/actions/dlq-replay`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ queue: 'emails', all: true }),
      })
      expect(r.status).toBe(403)
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('E_READ_ONLY')
      expect(await seeded.queue.deadLetters.count()).toBe(2)
    } finally {
      await new Promise((r) => s.close(r))
    }
  })
})
