import { describe, expect, it } from 'vitest'
import { backoff, sleep, withDeadline } from './deadline.js'
import { CacheError, isCacheError, isUnavailable, TimeoutError } from './errors.js'

describe('withDeadline', () => {
  it('settles like the promise when it is in time', async () => {
    expect(await withDeadline(Promise.resolve(7), 1_000, 'x')).toBe(7)
    const boom = new Error('boom')
    await expect(withDeadline(Promise.reject(boom), 1_000, 'x')).rejects.toBe(boom)
  })

  it('rejects with a coded E_TIMEOUT TimeoutError naming the operation when it is late', async () => {
    const never = new Promise<never>(() => {})
    const err = await withDeadline(never, 5, 'connect').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(isCacheError(err, 'E_TIMEOUT')).toBe(true)
    expect((err as TimeoutError).timeoutMs).toBe(5)
    expect((err as Error).message).toBe('[@cache/client] connect: no answer within 5ms')
    expect(isUnavailable(err)).toBe(true)
  })

  it('ignores a late rejection (no unhandled rejection)', async () => {
    let fail!: (e: unknown) => void
    const late = new Promise((_, reject) => {
      fail = reject
    })
    await expect(withDeadline(late, 1, 'x')).rejects.toMatchObject({ code: 'E_TIMEOUT' })
    fail(new Error('late'))
    await sleep(1)
  })
})

describe('sleep', () => {
  it('resolves after the delay', async () => {
    await expect(sleep(1)).resolves.toBeUndefined()
  })

  it('rejects with the reason when aborted, before or during the wait', async () => {
    const before = new AbortController()
    before.abort(new Error('stop'))
    await expect(sleep(10_000, before.signal)).rejects.toThrow('stop')
    const during = new AbortController()
    const p = sleep(10_000, during.signal)
    during.abort(new Error('later'))
    await expect(p).rejects.toThrow('later')
  })
})

describe('backoff', () => {
  it('grows exponentially up to the cap with no jitter', () => {
    const d = [0, 1, 2, 3, 10, 100].map((attempt) => backoff({ attempt, base: 50, max: 1_000 }))
    expect(d).toEqual([50, 100, 200, 400, 1_000, 1_000])
  })

  it('spreads symmetrically by the jitter fraction and never goes below 1ms', () => {
    expect(backoff({ attempt: 2, base: 50, max: 1_000, jitter: 0.5, random: () => 0 })).toBe(100)
    expect(backoff({ attempt: 2, base: 50, max: 1_000, jitter: 0.5, random: () => 0.999999 })).toBe(300)
    expect(backoff({ attempt: 0, base: 1, max: 10, jitter: 1, random: () => 0 })).toBe(1)
    for (let i = 0; i < 200; i++) {
      const v = backoff({ attempt: i % 8, base: 10, max: 500, jitter: 0.3 })
      const nominal = Math.min(500, 10 * 2 ** (i % 8))
      expect(v).toBeGreaterThanOrEqual(Math.max(1, Math.floor(nominal * 0.7)))
      expect(v).toBeLessThanOrEqual(Math.ceil(nominal * 1.3))
    }
  })

  it('clamps a negative attempt and an out-of-range jitter', () => {
    expect(backoff({ attempt: -3, base: 20, max: 100 })).toBe(20)
    expect(backoff({ attempt: 0, base: 20, max: 100, jitter: 5, random: () => 0 })).toBe(1)
  })
})

describe('isUnavailable', () => {
  it('is true only for E_UNAVAILABLE and E_TIMEOUT CacheErrors', () => {
    expect(isUnavailable(new CacheError('E_UNAVAILABLE', 'x'))).toBe(true)
    expect(isUnavailable(new CacheError('E_TIMEOUT', 'x'))).toBe(true)
    expect(isUnavailable(new CacheError('E_COMMAND', 'x'))).toBe(false)
    expect(isUnavailable(Object.assign(new Error('x'), { code: 'E_UNAVAILABLE' }))).toBe(false)
    expect(isUnavailable(undefined)).toBe(false)
  })
})
