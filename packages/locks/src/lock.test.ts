import { CacheError } from '@cache/client'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type LeaseOps, Lock, lostChannel, runHolding, validUntil } from './lock.js'

function fakeOps(overrides: Partial<Record<keyof LeaseOps, () => Promise<boolean>>> = {}) {
  const calls = { extend: 0, release: 0 }
  const ops: LeaseOps = {
    extend: async () => {
      calls.extend++
      return overrides.extend ? overrides.extend() : true
    },
    release: async () => {
      calls.release++
      return overrides.release ? overrides.release() : true
    },
  }
  return { ops, calls }
}

function make(
  ops: LeaseOps,
  init: { ttlMs?: number; autoExtend?: boolean; heldTooLongMs?: number; onHeld?: () => void } = {},
) {
  return new Lock({
    resource: 'r',
    token: 7,
    ttlMs: init.ttlMs ?? 300,
    startedAt: performance.now(),
    ops,
    autoExtend: init.autoExtend ?? false,
    heldTooLongMs: init.heldTooLongMs,
    onHeldTooLong: init.onHeld,
  })
}

describe('Lock (lease handle, fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('validity subtracts the drift allowance', () => {
    expect(validUntil(1000, 10_000)).toBe(1000 + 10_000 - 102)
  })

  it('without autoExtend, the signal aborts with E_LOCK_LOST when the lease runs out', async () => {
    const { ops } = fakeOps()
    const lock = make(ops)
    const published: unknown[] = []
    const sub = (m: unknown) => published.push(m)
    lostChannel.subscribe(sub)
    expect(lock.remainingMs).toBeGreaterThan(0)
    await vi.advanceTimersByTimeAsync(299)
    expect(lock.signal.aborted).toBe(true)
    lostChannel.unsubscribe(sub)
    expect(lock.signal.reason.code).toBe('E_LOCK_LOST')
    expect(lock.remainingMs).toBe(0)
    expect(published).toEqual([{ resource: 'r', token: 7, code: 'E_LOCK_LOST' }])
    await expect(lock.release()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    await expect(lock.extend()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
  })

  it('a lease that ran out by the local clock is not held, even if no one looked at the signal', async () => {
    const { ops, calls } = fakeOps()
    const lock = make(ops)
    await vi.advanceTimersByTimeAsync(400)
    expect(lock.held).toBe(false)
    expect(lock.signal.aborted).toBe(true)
    await expect(lock.release()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    expect(calls.release).toBe(1) // still cleaned up on the server, in case the server kept it
  })

  it('the watchdog extends every ttl/3 and keeps the lease', async () => {
    const { ops, calls } = fakeOps()
    const lock = make(ops, { autoExtend: true })
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls.extend).toBeGreaterThanOrEqual(9)
    expect(lock.held).toBe(true)
    await lock.release()
    expect(calls.release).toBe(1)
    await lock.release()
    expect(calls.release).toBe(1)
    await expect(lock.extend()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
  })

  it('the watchdog aborts with E_LOCK_LOST when the server says the lease is gone', async () => {
    const { ops } = fakeOps({ extend: async () => false })
    const lock = make(ops, { autoExtend: true })
    await vi.advanceTimersByTimeAsync(101)
    expect(lock.signal.reason.code).toBe('E_LOCK_LOST')
  })

  it('failing extensions retry, then abort with E_LOCK_EXTEND_FAILED when the lease runs out; release says E_LOCK_LOST', async () => {
    const { ops, calls } = fakeOps({
      extend: async () => {
        throw new CacheError('E_TIMEOUT', 'down')
      },
    })
    const lock = make(ops, { autoExtend: true })
    await vi.advanceTimersByTimeAsync(250)
    expect(lock.held).toBe(true)
    await vi.advanceTimersByTimeAsync(60)
    expect(calls.extend).toBeGreaterThan(1)
    expect(lock.signal.reason.code).toBe('E_LOCK_EXTEND_FAILED')
    const err = await lock.release().catch((e) => e)
    expect(err.code).toBe('E_LOCK_LOST')
    expect(err.cause.code).toBe('E_LOCK_EXTEND_FAILED')
  })

  it('a manual extend maps server errors to E_LOCK_EXTEND_FAILED and validates the ttl', async () => {
    let fail = true
    const { ops } = fakeOps({
      extend: async () => {
        if (fail) throw new CacheError('E_UNAVAILABLE', 'down')
        return true
      },
    })
    const lock = make(ops)
    await expect(lock.extend()).rejects.toMatchObject({ code: 'E_LOCK_EXTEND_FAILED' })
    await expect(lock.extend(-5)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', field: 'ttl' })
    fail = false
    await lock.extend('1s')
    await vi.advanceTimersByTimeAsync(900)
    expect(lock.held).toBe(true)
    await vi.advanceTimersByTimeAsync(200)
    expect(lock.held).toBe(false)
  })

  it('release reports E_LOCK_LOST when the server no longer had the lease', async () => {
    const { ops } = fakeOps({ release: async () => false })
    const lock = make(ops)
    await expect(lock.release()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    expect(lock.signal.aborted).toBe(true)
  })

  it('reports a lease held too long, once', async () => {
    const { ops } = fakeOps()
    const onHeld = vi.fn()
    const lock = make(ops, { autoExtend: true, heldTooLongMs: 500, onHeld })
    await vi.advanceTimersByTimeAsync(600)
    expect(onHeld).toHaveBeenCalledTimes(1)
    expect(lock.heldMs).toBeGreaterThanOrEqual(500)
    await lock[Symbol.asyncDispose]()
    expect(lock.held).toBe(false)
  })
})

describe('runHolding (acquire -> run -> always release)', () => {
  it('returns what fn returns and releases once', async () => {
    const { ops, calls } = fakeOps()
    expect(
      await runHolding(
        async () => make(ops),
        (lock) => lock.token * 6,
      ),
    ).toBe(42)
    expect(calls.release).toBe(1)
  })

  it('rethrows the error of fn, not the failed release that follows it', async () => {
    const { ops, calls } = fakeOps({ release: async () => false })
    const boom = new Error('boom')
    await expect(
      runHolding(Promise.resolve(make(ops)), () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(calls.release).toBe(1)
  })

  it('throws the release failure (E_LOCK_LOST) when fn succeeded', async () => {
    const { ops } = fakeOps({ release: async () => false })
    await expect(
      runHolding(
        async () => make(ops),
        () => 'done',
      ),
    ).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
  })

  it('does not run fn when the acquisition fails', async () => {
    const fn = vi.fn()
    await expect(runHolding(Promise.reject(new Error('no lock')), fn)).rejects.toThrow('no lock')
    expect(fn).not.toHaveBeenCalled()
  })
})
