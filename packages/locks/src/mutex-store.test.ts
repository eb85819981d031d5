import { describe, expect, it } from 'vitest'
import { MutexStore } from './mutex-store.js'

describe('MutexStore wake-up messages', () => {
  const owner = 'AbC123xyz7'

  it('parses a direct handoff for its own waiter only', () => {
    const parse = MutexStore.handoff(owner)
    expect(parse(`\n${owner}\n1764786000123456\n12`)).toEqual({ token: 1764786000123456, elapsedMs: 12 })
    expect(parse(`\nsomeone-else\n5\n0`)).toBeUndefined()
    expect(parse('')).toBeUndefined()
  })

  it('never reads a wake-up naming an owner or a queue entry as a handoff', () => {
    const parse = MutexStore.handoff(owner)
    // A fair wake-up names the head: its owner, or its queue entry "owner\nttl\nentry ttl\nholder".
    expect(parse(owner)).toBeUndefined()
    expect(parse(`${owner}\n10000\n2000\nhost:1:ab`)).toBeUndefined()
  })

  it('default waiters: any wake-up, but only their own handoff', () => {
    const accept = MutexStore.accept(owner, false)
    expect(accept('')).toBe(true)
    expect(accept('other')).toBe(true)
    expect(accept(`\n${owner}\n7\n0`)).toBe(true)
    expect(accept('\nother\n7\n0')).toBe(false)
  })

  it('fair waiters: a general wake-up, their own name, or their own handoff', () => {
    const accept = MutexStore.accept(owner, true)
    expect(accept('')).toBe(true)
    expect(accept(owner)).toBe(true)
    expect(accept('other')).toBe(false)
    expect(accept(`\n${owner}\n7\n0`)).toBe(true)
    expect(accept('\nother\n7\n0')).toBe(false)
  })
})
