import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Connection, connect, isCacheError } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { RedisCache } from '../src/redis-cache.js'

const { standalone, cluster } = inject('redis')
const root = uniquePrefix('gos')
const child = fileURLToPath(new URL('./fixtures/stampede-child.ts', import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let a: Connection
let b: Connection
let sharded: Connection
const caches: RedisCache[] = []

beforeAll(async () => {
  ;[a, b, sharded] = await Promise.all([
    connect({ url: standalone.url, namespace: root }),
    connect({ url: standalone.url, namespace: root }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: root }),
  ])
})
afterAll(async () => {
  for (const c of caches) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await Promise.all([a?.close(), b?.close(), sharded?.close()])
})

/** Two caches on two connections sharing a namespace: two "processes" as far as Redis can tell. */
function pair(options: ConstructorParameters<typeof RedisCache>[1] = {}, conns = [a, b]) {
  const namespace = uniquePrefix('p')
  const made = conns.map((c) => new RedisCache<unknown>(c as Connection, { namespace, ...options }))
  caches.push(...made)
  return made as [RedisCache<unknown>, RedisCache<unknown>]
}

function spawnChild(args: string[]): {
  proc: ChildProcess
  lines: string[]
  next: (match: RegExp) => Promise<string>
} {
  const proc = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', child, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: string[] = []
  const waiting: Array<{ match: RegExp; resolve: (line: string) => void }> = []
  let buffer = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let i = buffer.indexOf('\n')
    while (i >= 0) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      lines.push(line)
      for (const w of [...waiting]) {
        if (w.match.test(line)) {
          waiting.splice(waiting.indexOf(w), 1)
          w.resolve(line)
        }
      }
      i = buffer.indexOf('\n')
    }
  })
  const next = (match: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find((l) => match.test(l))
      if (found) return resolve(found)
      waiting.push({ match, resolve })
      proc.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${match}`)))
    })
  return { proc, lines, next }
}

describe('getOrSet across processes', () => {
  it('1,000 concurrent misses on one key from 4 processes run the factory exactly once', async () => {
    const namespace = uniquePrefix('stampede')
    const children = Array.from({ length: 4 }, () =>
      spawnChild([standalone.url, root, namespace, 'hot', 'normal', '250']),
    )
    try {
      await Promise.all(children.map((c) => c.next(/^ready$/)))
      for (const c of children) c.proc.stdin?.write('go\n')
      const reports = (await Promise.all(children.map((c) => c.next(/^\{/)))).map(
        (l) => JSON.parse(l) as { calls: number; values: number[]; errors: string[] },
      )
      expect(reports.reduce((s, r) => s + r.calls, 0)).toBe(1)
      expect(Number(await a.send(['GET', `${root}:factory-calls`]))).toBe(1)
      for (const r of reports) {
        expect(r.errors).toEqual([])
        expect(r.values).toHaveLength(1)
      }
      // Every process got the same value: the one computed by the single winner.
      expect(new Set(reports.map((r) => r.values[0])).size).toBe(1)
    } finally {
      for (const c of children) c.proc.kill('SIGKILL')
      await a.send(['DEL', `${root}:factory-calls`])
    }
  })

  it('when the computing process dies, its lease expires and another process takes over', async () => {
    const namespace = uniquePrefix('dies')
    const holder = spawnChild([standalone.url, root, namespace, 'k', 'hang', '1'])
    try {
      await holder.next(/^ready$/)
      holder.proc.stdin?.write('go\n')
      await holder.next(/^computing$/)
      const cache = new RedisCache<string>(a, { namespace, leasePoll: '50ms' })
      caches.push(cache as RedisCache)
      const pending = cache.getOrSet('k', () => 'taken over')
      await sleep(300)
      holder.proc.kill('SIGKILL') // stops renewing: the 1s lease runs out
      expect(await pending).toBe('taken over')
    } finally {
      holder.proc.kill('SIGKILL')
      await a.send(['DEL', `${root}:factory-calls`])
    }
  })

  it('waiters are woken by notification, not by their (here very slow) poll', async () => {
    const [holder, waiter] = pair({ leasePoll: '60s' })
    let calls = 0
    const slow = async () => {
      calls++
      await sleep(150)
      return 'v'
    }
    const first = holder.getOrSet('n', slow)
    await sleep(50)
    const started = performance.now()
    const second = waiter.getOrSet('n', slow)
    expect(await Promise.all([first, second])).toEqual(['v', 'v'])
    expect(calls).toBe(1)
    // Woken well before the 30–90 s fallback poll could have fired.
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('a factory error in the lease holder reaches waiters in other processes (E_FACTORY) and caches nothing', async () => {
    const [holder, waiter] = pair({ leasePoll: '5s' })
    const boom = new TypeError('db down')
    const first = holder.getOrSet('e', async () => {
      await sleep(150)
      throw boom
    })
    await sleep(50)
    let waiterCalls = 0
    const second = waiter.getOrSet('e', () => {
      waiterCalls++
      return 'x'
    })
    await expect(first).rejects.toBe(boom)
    const err = await second.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isCacheError(err, 'E_FACTORY')).toBe(true)
    expect((err as Error).message).toContain('TypeError')
    expect(waiterCalls).toBe(0)
    expect(await holder.has('e')).toBe(false)
    expect(await waiter.getOrSet('e', () => 'recovered')).toBe('recovered')
  })

  it('the holder renews its lease while a slow factory runs, so nobody else computes', async () => {
    // The factory outlives the lease twice over; renewals every lease/3 keep it (1s: robust on a busy CI box).
    const [holder, waiter] = pair({ lease: '1s', leasePoll: '50ms' })
    let calls = 0
    const slow = async () => {
      calls++
      await sleep(2200)
      return calls
    }
    const results = await Promise.all([
      holder.getOrSet('r', slow),
      sleep(50).then(() => waiter.getOrSet('r', slow)),
    ])
    expect(results).toEqual([1, 1])
    expect(calls).toBe(1)
  })

  it('a lease left by a dead process (no notification ever comes) is taken over after it expires', async () => {
    const [cache] = pair({ leasePoll: '50ms' })
    const leaseKey = cache.redisKey('orphan').replace(/v:\{orphan\}$/, 'l:{orphan}')
    await a.send(['SET', leaseKey, 'someone-dead', 'PX', '400'])
    expect(await cache.getOrSet('orphan', () => 'mine')).toBe('mine')
    expect(await a.send(['EXISTS', leaseKey])).toBe(0)
  })

  it('works on a cluster: lease, notification and value share the key slot', async () => {
    const [x, y] = pair({}, [sharded, sharded])
    let calls = 0
    const f = async () => {
      calls++
      await sleep(100)
      return 42
    }
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => x.getOrSet('c', f)),
      ...Array.from({ length: 20 }, () => y.getOrSet('c', f)),
    ])
    expect(new Set(results)).toEqual(new Set([42]))
    expect(calls).toBe(1)
  })

  it('validates factory and lease before doing anything', async () => {
    const [cache] = pair()
    await expect(cache.getOrSet('k', 'nope' as never)).rejects.toMatchObject({
      details: { field: 'factory' },
    })
    await expect(cache.getOrSet('k', () => 1, { lease: '1ms' })).rejects.toMatchObject({
      details: { field: 'lease' },
    })
    await expect(cache.getOrSet('k', () => undefined)).rejects.toMatchObject({ code: 'E_ENCODE' })
    expect(await cache.has('k')).toBe(false)
  })

  it('close() wakes waiters, which reject with E_CLOSED', async () => {
    const [holder, waiter] = pair({ leasePoll: '60s' })
    const first = holder.getOrSet('w', async () => {
      await sleep(300)
      return 1
    })
    await sleep(50)
    const second = waiter.getOrSet('w', () => 2).catch((err: unknown) => err)
    await sleep(50)
    await waiter.close()
    expect(await second).toMatchObject({ code: 'E_CLOSED' })
    expect(await first).toBe(1)
  })
})
