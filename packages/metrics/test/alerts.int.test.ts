import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Connection } from '@cache/client'
import { PubSub } from '@cache/events'
import { codeOfSync } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AlertNotification, alertNotificationSchema, Metrics } from '../src/index.js'
import { sharedConnection } from './helpers.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const MIN = 60_000

describe.each(['standalone', 'cluster'] as const)('alerts on %s (injected clock)', (kind) => {
  let conn: Connection
  let now = T0
  const clock = () => now
  let server: Server
  let url: string
  const posts: AlertNotification[] = []
  let requests = 0

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        requests++
        // The first delivery fails once: the notifier retries.
        if (requests === 1) {
          res.statusCode = 503
          res.end()
          return
        }
        posts.push(JSON.parse(body) as AlertNotification)
        res.end('ok')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  })
  afterAll(async () => {
    await new Promise((r) => server.close(r))
    await conn.close()
  })

  it('fire after `for`, hysteresis, resolve; one notifier across processes and across a leader change', async () => {
    const writer = new Metrics(conn, { id: 'writer', clock, flushInterval: '1h' })
    const hosts = ['p1', 'p2'].map((id) => new Metrics(conn, { id, clock, flushInterval: '1h' }))
    const rules = [
      {
        name: 'low-hit-ratio',
        expr: { fn: 'ratio', of: ['app_hits_total', 'app_reads_total'] },
        below: 0.8,
        for: '2m',
        window: '1m',
        hysteresis: 0.05,
        severity: 'page',
      },
    ] as const
    const alerts = hosts.map((h) =>
      h.alerts([...rules], {
        notify: { channel: 'ops-alerts', webhook: { url, retries: 2 } },
        interval: '1h',
        leaseTtl: '2s',
      }),
    )
    const bus = new PubSub(conn, { schemas: { 'ops-alerts': alertNotificationSchema } })
    const received: AlertNotification[] = []
    await bus.subscribe('ops-alerts', (m) => {
      received.push(m)
    })
    const emitted: string[] = []
    alerts.forEach((a, i) => {
      a.on('firing', (n: AlertNotification) => emitted.push(`p${i + 1}:firing:${n.rule}`))
      a.on('resolved', (n: AlertNotification) => emitted.push(`p${i + 1}:resolved:${n.rule}`))
    })
    await Promise.race(alerts.map((a) => a.waitForLeadership(10_000)))
    const leader = alerts.findIndex((a) => a.isLeader)
    expect(alerts.filter((a) => a.isLeader)).toHaveLength(1)

    const hits = writer.counter('app_hits_total')
    const reads = writer.counter('app_reads_total')
    /** Minute k: `h` hits of 100 reads, then every process evaluates at the end of the minute. */
    const minute = async (k: number, h: number) => {
      now = T0 + k * MIN + 5_000
      hits.inc(h)
      reads.inc(100)
      await writer.flush()
      now = T0 + (k + 1) * MIN
      const sent = await Promise.all(alerts.map((a) => a.evaluate().catch(() => [])))
      return sent.flat().map((n) => n.state)
    }
    expect(await minute(0, 90)).toEqual([])
    expect(await minute(1, 50)).toEqual([]) // pending since T0+2m
    expect((await alerts[leader]!.states())['low-hit-ratio']).toMatchObject({
      state: 'pending',
      since: T0 + 2 * MIN,
    })
    expect(await minute(2, 50)).toEqual([]) // held 1m < 2m
    expect(await minute(3, 50)).toEqual(['firing'])
    expect(await minute(4, 40)).toEqual([]) // still firing: no repeat

    // The leader goes away: the other process takes over with the stored state (no second `firing`).
    await alerts[leader]!.close()
    const follower = alerts[1 - leader]!
    expect(await follower.waitForLeadership(10_000)).toBe(true)
    expect(await minute(5, 82)).toEqual([]) // above 0.8 but not by the 0.05 hysteresis: still firing
    expect(await minute(6, 95)).toEqual(['resolved'])
    expect(await minute(7, 95)).toEqual([])

    await new Promise((r) => setTimeout(r, 200))
    expect(received.map((n) => [n.rule, n.state, n.severity])).toEqual([
      ['low-hit-ratio', 'firing', 'page'],
      ['low-hit-ratio', 'resolved', 'page'],
    ])
    expect(received[0]).toMatchObject({
      value: 0.5,
      threshold: 0.8,
      op: 'below',
      since: T0 + 2 * MIN,
      at: T0 + 4 * MIN,
    })
    expect(received[1]!.term).toBeGreaterThan(received[0]!.term)
    expect(posts.map((n) => n.state)).toEqual(['firing', 'resolved'])
    expect(requests).toBe(3) // one retried delivery
    expect(emitted).toEqual([`p${leader + 1}:firing:low-hit-ratio`, `p${2 - leader}:resolved:low-hit-ratio`])

    await follower.close()
    await follower.close()
    await bus.close()
    await Promise.all([writer, ...hosts].map((m) => m.close()))
  })

  it('threshold queries (p99 above) and typed errors for bad rules', async () => {
    const m = new Metrics(conn, { id: 'q', clock, flushInterval: '1h' })
    const lat = m.histogram('app_latency_seconds')
    const a = m.alerts(
      [{ name: 'slow', expr: { fn: 'p99', name: 'app_latency_seconds' }, above: 0.5, window: '1m' }],
      {
        notify: { channel: false },
        interval: '1h',
        election: 'slow-alerts',
      },
    )
    expect(await a.waitForLeadership(10_000)).toBe(true)
    now = T0 + 20 * MIN + 1_000
    for (let i = 0; i < 100; i++) lat.observe(i < 95 ? 0.01 : 2)
    await m.flush()
    now = T0 + 21 * MIN
    const sent = await a.evaluate()
    expect(sent.map((n) => n.state)).toEqual(['firing'])
    expect(Math.abs(sent[0]!.value! - 2) / 2).toBeLessThanOrEqual(0.01) // the log layout's documented error
    await a.close()
    const bad = (rules: unknown[], o = {}) => codeOfSync(() => m.alerts(rules as never, o))
    expect(bad([])).toBe('E_INVALID_ARGUMENT')
    expect(bad([{ name: 'x y', expr: { fn: 'rate', name: 'a_total' }, above: 1 }])).toBe('E_INVALID_ARGUMENT')
    expect(bad([{ name: 'x', expr: { fn: 'rate', name: 'a_total' } }])).toBe('E_INVALID_ARGUMENT')
    expect(bad([{ name: 'x', expr: { fn: 'ratio', of: ['a_total'] }, below: 1 }])).toBe('E_INVALID_ARGUMENT')
    expect(bad([{ name: 'x', expr: { fn: 'rate', name: 'a_total' }, above: 1, for: 'soon' }])).toBe(
      'E_INVALID_ARGUMENT',
    )
    expect(
      bad([{ name: 'x', expr: { fn: 'rate', name: 'a_total' }, above: 1 }], {
        notify: { webhook: { url: 'nope' } },
      }),
    ).toBe('E_INVALID_ARGUMENT')
    await m.close()
  })
})
