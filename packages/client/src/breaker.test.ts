import { describe, expect, it } from 'vitest'
import { type BreakerState, CircuitBreaker } from './breaker.js'

function setup(threshold = 3, resetMs = 1000) {
  let now = 0
  const changes: BreakerState[] = []
  const breaker = new CircuitBreaker(
    { failureThreshold: threshold, resetTimeoutMs: resetMs },
    (s) => changes.push(s),
    () => now,
  )
  return { breaker, changes, advance: (ms: number) => (now += ms) }
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures', () => {
    const { breaker, changes } = setup(3)
    breaker.failure()
    breaker.failure()
    expect(breaker.state).toBe('closed')
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
    expect(changes).toEqual(['open'])
  })

  it('a success resets the failure count', () => {
    const { breaker } = setup(2)
    breaker.failure()
    breaker.success()
    breaker.failure()
    expect(breaker.state).toBe('closed')
  })

  it('lets one probe through after the reset timeout; its success closes', () => {
    const { breaker, changes, advance } = setup(1, 1000)
    breaker.failure()
    expect(breaker.retryAfterMs).toBe(1000)
    advance(999)
    expect(breaker.allow()).toBe(false)
    advance(1)
    expect(breaker.allow()).toBe(true)
    expect(breaker.state).toBe('half-open')
    expect(breaker.allow()).toBe(false) // only one probe at a time
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(breaker.retryAfterMs).toBe(0)
    expect(changes).toEqual(['open', 'half-open', 'closed'])
  })

  it('a failed probe opens it again for another reset period', () => {
    const { breaker, advance } = setup(1, 1000)
    breaker.failure()
    advance(1000)
    expect(breaker.allow()).toBe(true)
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.retryAfterMs).toBe(1000)
  })

  it('open() opens at once', () => {
    const { breaker } = setup(5)
    breaker.open()
    expect(breaker.state).toBe('open')
    breaker.open()
    expect(breaker.state).toBe('open')
  })
})
