import { type CacheError, type Connection, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConcurrencyLimiter, RateLimiter } from '../src/index.js'

/** Own server: this file kills, restarts and pauses it. */
describe('outage policy', () => {
  let topo: StandaloneTopology
  let conn: Connection
  let open: RateLimiter
  let closed: RateLimiter
  let local: RateLimiter
  const events: string[] = []
  let analytics: RateLimiter | undefined

  beforeAll(async () => {
    topo = await startStandalone()
    conn = await connect({
      url: topo.url,
      namespace: 'outage',
      commandTimeout: 300,
      reconnect: { initialDelay: 20, maxDelay: 100 },
      breaker: { failureThreshold: 1, resetTimeout: 100 },
    })
    conn.on('error', () => {})
    const rule = { algorithm: 'fixed-window', limit: 3, window: '1m' } as const
    open = new RateLimiter(conn, { ...rule, name: 'open', outage: 'fail-open' })
    closed = new RateLimiter(conn, { ...rule, name: 'closed', outage: 'fail-closed' })
    local = new RateLimiter(conn, { ...rule, name: 'local', outage: 'local' })
    for (const [name, l] of [
      ['open', open],
      ['closed', closed],
      ['local', local],
    ] as const) {
      l.on('outage', (err: CacheError) => events.push(`${name}:outage:${err.code}`))
      l.on('recovered', () => events.push(`${name}:recovered`))
    }
  })

  afterAll(async () => {
    await conn?.close()
    await topo?.stop()
  })

  it('uses Redis while it is up', async () => {
    for (const l of [open, closed, local]) {
      const r = await l.consume('a')
      expect(r).toMatchObject({ allowed: true, source: 'redis', remaining: 2 })
      expect(l.degraded).toBe(false)
    }
  })

  it('server killed: fail-open allows, fail-closed denies, local enforces the same rule in memory', async () => {
    await topo.master.kill()
    const o = await open.consume('a')
    expect(o).toMatchObject({ allowed: true, source: 'fail-open', remaining: 3 })
    const c = await closed.consume('a')
    expect(c).toMatchObject({ allowed: false, source: 'fail-closed' })
    expect(c.retryAfterMs).toBeGreaterThan(0)
    await expect(closed.consumeOrThrow('a')).rejects.toMatchObject({ code: 'E_RATE_LIMIT_UNAVAILABLE' })
    const decisions = []
    for (let i = 0; i < 5; i++) decisions.push(await local.consume('a'))
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false])
    expect(decisions.every((d) => d.source === 'local')).toBe(true)
    expect(decisions[3]!.retryAfterMs).toBeGreaterThan(0)
    // refunds too, under 'local' only: the other policies have nothing to give back to and say so
    expect(await local.refund('a')).toBe(1)
    expect(await local.consume('a')).toMatchObject({ allowed: true, source: 'local', remaining: 0 })
    await expect(open.refund('a')).rejects.toMatchObject({ code: expect.stringMatching(/^E_/) })
    // blocks work in memory too
    await local.block('b', '1m')
    expect(await local.consume('b')).toMatchObject({ allowed: false })
    for (const l of [open, closed, local]) {
      expect(l.degraded).toBe(true)
      expect(l.stats().outages).toBe(1)
      expect(l.stats().outageDecisions).toBeGreaterThan(0)
    }
    // analytics made while Redis is down wait for the next flush
    const counted = new RateLimiter(conn, {
      ...{ algorithm: 'gcra', limit: 5, window: '1m' },
      name: 'an',
      analytics: true,
    })
    await counted.consume('z')
    await counted.consume('z')
    await expect(counted.engine.flushStats()).rejects.toMatchObject({ code: expect.stringMatching(/^E_/) })
    analytics = counted
    // the concurrency limiter follows its policy too
    const ccLocal = new ConcurrencyLimiter(conn, { limit: 1, outage: 'local' })
    const held = await ccLocal.acquire('x')
    expect(held.allowed).toBe(true)
    expect((await ccLocal.acquire('x')).allowed).toBe(false)
    expect(await held.extend()).toBe(true)
    expect(await held.release()).toBe(true)
    expect((await ccLocal.acquire('x')).allowed).toBe(true)
    const ccOpen = new ConcurrencyLimiter(conn, { limit: 1, outage: 'fail-open' })
    expect((await ccOpen.acquire('x')).allowed).toBe(true)
    const ccClosed = new ConcurrencyLimiter(conn, { limit: 1, outage: 'fail-closed' })
    expect(await ccClosed.acquire('x')).toMatchObject({ allowed: false, retryAfterMs: 1000 })
    expect(events.filter((e) => e.includes(':outage:')).sort()).toEqual([
      expect.stringMatching(/^closed:outage:E_(UNAVAILABLE|TIMEOUT)$/),
      expect.stringMatching(/^local:outage:E_(UNAVAILABLE|TIMEOUT)$/),
      expect.stringMatching(/^open:outage:E_(UNAVAILABLE|TIMEOUT)$/),
    ])
  })

  it('server restarted: every limiter goes back to Redis by itself and says so', async () => {
    await topo.master.restart()
    for (const l of [open, closed, local]) {
      await waitFor('back on redis', async () => (await l.consume('c')).source === 'redis', {
        timeoutMs: 10_000,
        intervalMs: 50,
      })
      expect(l.degraded).toBe(false)
    }
    expect(await analytics!.ruleStats()).toEqual({ an: { allowed: 2, denied: 0 } })
    await analytics!.close()
    expect(events.filter((e) => e.endsWith(':recovered')).sort()).toEqual([
      'closed:recovered',
      'local:recovered',
      'open:recovered',
    ])
  })

  it('server paused (no answers): decisions come from the policy within the command timeout', async () => {
    topo.master.pause()
    try {
      const started = performance.now()
      const r = await open.consume('d')
      expect(r.source).toBe('fail-open')
      expect(performance.now() - started).toBeLessThan(5_000)
      expect((await local.consume('d')).source).toBe('local')
    } finally {
      topo.master.resume()
    }
    await waitFor('back on redis', async () => (await open.consume('e')).source === 'redis', {
      timeoutMs: 10_000,
      intervalMs: 50,
    })
  })
})
