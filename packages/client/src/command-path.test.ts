import diagnostics from 'node:diagnostics_channel'
import { ErrorReply } from '@redis/client'
import { describe, expect, it } from 'vitest'
import { CircuitBreaker } from './breaker.js'
import { type CommandEvent, CommandPath } from './command-path.js'

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((a, b) => {
    resolve = a
    reject = b
  })
  return { promise, resolve, reject }
}

const path = (o: Partial<ConstructorParameters<typeof CommandPath>[0]> = {}) =>
  new CommandPath({
    topology: 'standalone',
    commandTimeoutMs: 100,
    breaker: undefined,
    closed: () => false,
    onClusterUnavailable: () => {},
    offlineQueueMax: 0,
    offline: () => false,
    ...o,
  })

describe('CommandPath', () => {
  it('settles replies that arrive out of order, times out only the overdue one, and drains', async () => {
    const p = path()
    const replies = Array.from({ length: 5 }, () => deferred<string>())
    const results = replies.map((d, i) =>
      p
        .exec(`C${i}`, () => d.promise, i === 2 ? 60 : 5_000)
        .then(
          (v) => v,
          (e: { code: string }) => e.code,
        ),
    )
    replies[4]!.resolve('four')
    replies[0]!.resolve('zero')
    replies[3]!.reject(new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(p.inflight).toBe(2)
    const two = await results[2]
    expect(two).toBe('E_TIMEOUT')
    replies[1]!.resolve('one')
    replies[2]!.resolve('late') // after its timeout: ignored
    expect(await Promise.all(results)).toEqual(['zero', 'one', 'E_TIMEOUT', 'E_COMMAND', 'four'])
    expect(p.inflight).toBe(0)
    await p.drain(10)
    p.stop()
  })

  it('keeps thousands of in-order replies flowing (FIFO head advances, nothing retained)', async () => {
    const p = path({ commandTimeoutMs: 1_000 })
    const all: Promise<number>[] = []
    for (let i = 0; i < 5_000; i++) all.push(p.exec('GET', () => Promise.resolve(i)))
    const values = await Promise.all(all)
    expect(values[4_999]).toBe(4_999)
    expect(p.inflight).toBe(0)
    p.stop()
  })

  it('without a round-trip limit: no timeout, typed errors, diagnostics', async () => {
    const p = path()
    const events: CommandEvent[] = []
    const sub = (m: unknown) => events.push(m as CommandEvent)
    diagnostics.subscribe('cache:client:command', sub)
    try {
      const slow = deferred<string>()
      const r = p.exec('BLPOP', () => slow.promise, 0)
      await new Promise((resolve) => setTimeout(resolve, 150))
      slow.resolve('ok')
      expect(await r).toBe('ok')
      const failing = p.exec('XREADGROUP', () => Promise.reject(new Error('ECONNRESET')), 0)
      await expect(failing).rejects.toMatchObject({ code: 'E_UNAVAILABLE' })
    } finally {
      diagnostics.unsubscribe('cache:client:command', sub)
    }
    expect(events.map((e) => [e.command, e.ok])).toEqual([
      ['BLPOP', true],
      ['XREADGROUP', false],
    ])
    p.stop()
  })

  it('refuses while closed (E_CLOSED) and while the breaker is open (E_UNAVAILABLE), and a throwing sender rejects', async () => {
    let closed = false
    const breaker = new CircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 60_000 }, () => {})
    const p = path({ breaker, closed: () => closed })
    await expect(p.exec('GET', () => Promise.reject(new Error('ECONNREFUSED')))).rejects.toMatchObject({
      code: 'E_UNAVAILABLE',
    })
    await expect(p.exec('GET', () => Promise.resolve(1))).rejects.toMatchObject({ code: 'E_UNAVAILABLE' })
    closed = true
    await expect(p.exec('GET', () => Promise.resolve(1))).rejects.toMatchObject({ code: 'E_CLOSED' })
    const q = path()
    await expect(
      q.call(
        'GET',
        {},
        () => {
          throw new TypeError('bad argument')
        },
        [],
      ),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^E_/) })
    p.stop()
    q.stop()
  })

  it('bounds commands sent while offline, counts them until node-redis settles them, never when online', async () => {
    let offline = false
    const p = path({ offlineQueueMax: 3, offline: () => offline, commandTimeoutMs: 0 })
    // Online: no bound at all (backpressure is the caller's).
    const online = Array.from({ length: 10 }, () => deferred<string>())
    const onlineResults = online.map((d) => p.exec('GET', () => d.promise))
    expect(p.offlineQueued).toBe(0)
    offline = true
    const held = Array.from({ length: 3 }, () => deferred<string>())
    const heldResults = held.map((d) => p.exec('GET', () => d.promise))
    let sent = 0
    const rejected = await Promise.allSettled(
      [1, 2].map(() =>
        p.exec('GET', () => {
          sent++
          return Promise.resolve('never')
        }),
      ),
    )
    expect(rejected.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code)).toEqual([
      'E_UNAVAILABLE',
      'E_UNAVAILABLE',
    ])
    expect(sent).toBe(0)
    expect(p.offlineQueued).toBe(3)
    // Settled by node-redis (reply or failure): room again.
    held[0]!.resolve('a')
    held[1]!.reject(new Error('gone'))
    await expect(heldResults[0]).resolves.toBe('a')
    await expect(heldResults[1]).rejects.toMatchObject({ code: 'E_UNAVAILABLE' })
    expect(p.offlineQueued).toBe(1)
    const more = deferred<string>()
    const moreResult = p.exec('GET', () => more.promise)
    expect(p.offlineQueued).toBe(2)
    offline = false
    held[2]!.resolve('c')
    more.resolve('d')
    for (const d of online) d.resolve('x')
    expect(await Promise.all([heldResults[2], moreResult, ...onlineResults])).toEqual([
      'c',
      'd',
      ...online.map(() => 'x'),
    ])
    expect(p.offlineQueued).toBe(0)
  })
})
