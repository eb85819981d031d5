import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type Connection, connect } from '@cache/client'
import { codeOf, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CircuitBreaker, type CircuitState } from '../src/index.js'
import { pause } from './helpers.js'

const { standalone, cluster, sentinel } = inject('redis')
const root = fileURLToPath(new URL('../../..', import.meta.url))
const worker = fileURLToPath(new URL('./fixtures/breaker-worker.ts', import.meta.url))

const fail = () => Promise.reject(new Error('down'))
const succeed = () => Promise.resolve('ok')

describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('int-cb') })],
  ['Cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('int-cb') })],
  [
    'Sentinel',
    () =>
      connect({
        sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
        namespace: uniquePrefix('int-cb'),
      }),
  ],
] as const)('CircuitBreaker on %s', (_name, open) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await open()
  })
  afterAll(async () => {
    await conn?.close()
  })

  it('opens at the failure rate, refuses in-process while open, lets one probe through, closes on success', async () => {
    const breaker = await new CircuitBreaker(conn, 'svc', {
      failureRate: 0.5,
      minimumCalls: 4,
      window: '10s',
      openFor: 300,
      halfOpenProbes: 1,
    }).ready()
    const states: CircuitState[] = []
    breaker.on('state', ({ to }) => states.push(to))
    await breaker.execute(succeed)
    await breaker.execute(succeed)
    expect(await codeOf(breaker.execute(fail))).toBe('non-cache:Error: down')
    expect(breaker.state).toBe('closed') // 1 of 3: not enough calls
    expect(await codeOf(breaker.execute(fail))).toBe('non-cache:Error: down') // 2 of 4 failed = 0.5
    expect(breaker.state).toBe('open')
    const refused = await breaker.execute(succeed).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'E_CIRCUIT_OPEN', breaker: 'svc' })
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0)
    expect(breaker.stats().rejectedLocally).toBe(1)
    await pause(350)
    expect(breaker.state).toBe('half-open')
    let release!: () => void
    const probe = breaker.execute(() => new Promise<string>((r) => (release = () => r('probed'))))
    await pause(50)
    expect(await codeOf(breaker.execute(succeed))).toBe('E_CIRCUIT_OPEN') // the one probe is taken
    release()
    expect(await probe).toBe('probed')
    expect(breaker.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'closed'])
    expect(breaker.stats()).toMatchObject({ probes: 1, calls: 5, failures: 2, rejected: 2 })
    await breaker.close()
  })

  it('a failed probe opens it again; the window forgets old calls; open() and reset() act everywhere', async () => {
    const a = await new CircuitBreaker(conn, 'svc2', {
      minimumCalls: 2,
      window: 400,
      buckets: 4,
      openFor: 200,
    }).ready()
    const other = await new CircuitBreaker(conn, 'svc2', {
      minimumCalls: 2,
      window: 400,
      buckets: 4,
      openFor: 200,
    }).ready()
    await codeOf(a.execute(fail))
    await pause(500) // the failure leaves the window
    await codeOf(a.execute(fail))
    expect(a.state).toBe('closed')
    await codeOf(a.execute(fail))
    expect(a.state).toBe('open')
    await pause(250)
    expect(await codeOf(a.execute(fail))).toBe('non-cache:Error: down') // the probe fails
    expect(a.state).toBe('open')
    await other.reset()
    await pause(50)
    expect(a.state).toBe('closed')
    await other.open(10_000)
    await pause(50)
    expect(a.state).toBe('open')
    expect(await codeOf(a.execute(succeed))).toBe('E_CIRCUIT_OPEN')
    await a.reset()
    await Promise.all([a.close(), other.close()])
    expect(await codeOf(a.execute(succeed))).toBe('E_CLOSED')
  })

  it('counts only what isFailure says, and a callTimeout as a failure', async () => {
    const b = await new CircuitBreaker(conn, 'svc3', {
      minimumCalls: 2,
      failureRate: 0.5,
      callTimeout: 50,
      isFailure: (e) => !(e instanceof RangeError),
    }).ready()
    await codeOf(b.execute(() => Promise.reject(new RangeError('bad input'))))
    await codeOf(b.execute(() => Promise.reject(new RangeError('bad input'))))
    expect(b.state).toBe('closed')
    expect(await codeOf(b.execute(() => pause(200)))).toBe('E_TIMEOUT')
    expect(await codeOf(b.execute(() => pause(200)))).toBe('E_TIMEOUT')
    expect(b.state).toBe('open')
    await b.reset()
    await b.close()
  })
})

describe('CircuitBreaker options', () => {
  it('rejects bad names and options with typed errors naming the field', async () => {
    const conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-cb') })
    try {
      const field = (name: string, o: unknown) => {
        try {
          new CircuitBreaker(conn, name, o as never)
          return 'ok'
        } catch (err) {
          return `${(err as { code: string }).code}:${(err as { field: string }).field}`
        }
      }
      expect(field('bad name', {})).toBe('E_INVALID_ARGUMENT:name')
      expect(field('x', { failureRate: 0 })).toBe('E_INVALID_OPTION:failureRate')
      expect(field('x', { halfOpenProbes: 0 })).toBe('E_INVALID_OPTION:halfOpenProbes')
      expect(field('x', { window: 'soon' })).toBe('E_INVALID_OPTION:window')
      expect(field('x', { other: 1 })).toBe('E_INVALID_OPTION:other')
    } finally {
      await conn.close()
    }
  })
})

/** A breaker process driven over stdin/stdout. */
class Worker {
  readonly child: ChildProcess
  readonly states: Array<{ to: CircuitState; at: number }> = []
  readonly #pending = new Map<number, (m: any) => void>()
  #next = 0
  constructor(namespace: string, options: Record<string, unknown>) {
    this.child = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', worker], {
      cwd: root,
      env: {
        ...process.env,
        REDIS_URL: standalone.url,
        REDIS_NAMESPACE: namespace,
        BREAKER_OPTIONS: JSON.stringify(options),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line)
      if (m.event === 'state') this.states.push({ to: m.to, at: m.at })
      else this.#pending.get(m.id)?.(m)
    })
    this.child.on('exit', (code) => {
      for (const resolve of this.#pending.values()) resolve({ exited: code })
    })
  }
  send(op: string, extra: Record<string, unknown> = {}): Promise<any> {
    const id = this.#next++
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...extra })}\n`)
    })
  }
}

describe('CircuitBreaker shared by 4 processes', () => {
  const probes = 3
  const options = {
    failureRate: 0.5,
    minimumCalls: 8,
    window: '20s',
    openFor: 1500,
    halfOpenProbes: probes,
    probeTimeout: '10s',
  }
  let workers: Worker[] = []
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.send('exit').catch(() => {})))
    for (const w of workers) w.child.kill()
  })

  it('they open together, exactly halfOpenProbes probes run in the fleet, they close together', async () => {
    const namespace = uniquePrefix('int-cb4')
    workers = Array.from({ length: 4 }, () => new Worker(namespace, options))
    expect((await Promise.all(workers.map((w) => w.send('ready')))).map((r) => r.state)).toEqual(
      Array(4).fill('closed'),
    )
    // 2 failures in each process: 8 calls, all failed, in the shared window
    const failing = await Promise.all(workers.map((w) => w.send('calls', { n: 2, ok: false })))
    expect(failing.flatMap((r) => r.results)).toEqual(Array(8).fill('fail'))
    await pause(200)
    expect(workers.map((w) => w.states.map((s) => s.to))).toEqual(Array(4).fill(['open']))
    const openedAt = workers.map((w) => w.states[0]!.at)
    expect(Math.max(...openedAt) - Math.min(...openedAt)).toBeLessThan(200)

    // while open: refused in every process without a round trip
    const refused = await Promise.all(workers.map((w) => w.send('calls', { n: 5, ok: true })))
    for (const r of refused) {
      expect(r.results).toEqual(Array(5).fill('rejected'))
      expect(r.ran).toBe(0)
      expect(r.commands).toBe(0)
    }

    // after openFor: 5 concurrent calls in each process, slow enough to overlap; exactly `probes` run
    await pause(1600)
    const probing = await Promise.all(workers.map((w) => w.send('calls', { n: 5, ok: true, delay: 300 })))
    const ran = probing.reduce((sum, r) => sum + r.ran, 0)
    expect(ran).toBe(probes)
    expect(probing.flatMap((r) => r.results).filter((r) => r === 'ok')).toHaveLength(probes)
    expect(probing.flatMap((r) => r.results).filter((r) => r === 'rejected')).toHaveLength(20 - probes)

    await pause(200)
    const closedAt = workers.map((w) => w.states.find((s) => s.to === 'closed')?.at ?? Number.NaN)
    expect(closedAt.every(Number.isFinite)).toBe(true)
    expect(Math.max(...closedAt) - Math.min(...closedAt)).toBeLessThan(200)
    for (const w of workers) expect(w.states.map((s) => s.to)).toEqual(['open', 'half-open', 'closed'])
    const after = await Promise.all(workers.map((w) => w.send('calls', { n: 2, ok: true })))
    expect(after.flatMap((r) => r.results)).toEqual(Array(8).fill('ok'))
  })
})
