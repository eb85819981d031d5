import { CacheError } from '@cache/client'
import { describe, expect, it } from 'vitest'
import { findDeadlocks } from './diagnostics.js'
import { type Attempt, jitter, waitLoop } from './wait.js'

describe('jitter', () => {
  it('spreads ±50% and never returns less than 1', () => {
    expect(jitter(100, () => 0)).toBe(50)
    expect(jitter(100, () => 0.999)).toBe(150)
    expect(jitter(0, () => 0)).toBe(1)
  })
})

describe('waitLoop (no server)', () => {
  const busy = (): Attempt<number> => ({ ok: false, retryInMs: 5 })

  it('returns the first success, and times out with E_LOCK_TIMEOUT naming the resource', async () => {
    let n = 0
    const got = await waitLoop({
      resource: 'r',
      waitTimeoutMs: 1000,
      retryIntervalMs: 5,
      attempt: async () => (++n < 3 ? busy() : { ok: true, value: 42, startedAt: 0 }),
    })
    expect(got.value).toBe(42)
    const err = await waitLoop({
      resource: 'r',
      waitTimeoutMs: 20,
      retryIntervalMs: 5,
      attempt: async () => busy(),
    }).catch((e) => e)
    expect(err).toMatchObject({ code: 'E_LOCK_TIMEOUT', resource: 'r' })
    const once = await waitLoop({
      resource: 'r',
      waitTimeoutMs: 0,
      retryIntervalMs: 5,
      attempt: async () => busy(),
    }).catch((e) => e)
    expect(once.code).toBe('E_LOCK_TIMEOUT')
  })

  it('waits out unreachable servers, and reports the last error as the cause of the timeout', async () => {
    let n = 0
    const err = await waitLoop({
      resource: 'r',
      waitTimeoutMs: 30,
      retryIntervalMs: 5,
      attempt: async () => {
        if (n++ === 0) return busy()
        throw new CacheError('E_UNAVAILABLE', 'down')
      },
    }).catch((e) => e)
    expect(err.code).toBe('E_LOCK_TIMEOUT')
    expect(err.cause.code).toBe('E_UNAVAILABLE')
    const other = await waitLoop({
      resource: 'r',
      waitTimeoutMs: 30,
      retryIntervalMs: 5,
      attempt: async () => {
        if (n++ % 2 === 0) return busy()
        throw new Error('bug')
      },
    }).catch((e) => e)
    expect(other.message).toBe('bug')
  })

  it('aborts with E_LOCK_ABORTED and calls the give-up hook', async () => {
    const ac = new AbortController()
    let gaveUp = false
    let waited: string | undefined = 'unset'
    setTimeout(() => ac.abort(), 20)
    const err = await waitLoop({
      resource: 'r',
      waitTimeoutMs: 5000,
      retryIntervalMs: 1000,
      signal: ac.signal,
      attempt: async () => ({ ok: false, retryInMs: 0, holder: 'h' }),
      onWait: (holder) => {
        waited = holder
      },
      onGiveUp: async () => {
        gaveUp = true
      },
    }).catch((e) => e)
    expect(err.code).toBe('E_LOCK_ABORTED')
    expect(gaveUp).toBe(true)
    expect(waited).toBe('h')
  })
})

describe('findDeadlocks', () => {
  it('finds each cycle once, ignores free resources and self-edges', () => {
    const e = (waiter: string, holder: string | undefined) => ({
      waiter,
      resource: 'x',
      holder,
      waitingMs: 0,
    })
    expect(findDeadlocks([e('a', 'b'), e('b', 'a')])).toEqual([['a', 'b']])
    expect(findDeadlocks([e('b', 'c'), e('c', 'a'), e('a', 'b'), e('d', 'a')])).toEqual([['a', 'b', 'c']])
    expect(findDeadlocks([e('a', 'b'), e('b', undefined), e('c', 'c')])).toEqual([])
  })
})
