import { describe, expect, it } from 'vitest'
import { type BoundRule, LocalStore } from './local.js'

const rule = (name: string, limit: number, penaltyMs = 0): BoundRule => ({
  name,
  params: { algorithm: 'fixed-window', limit, windowMs: 1000, burst: limit },
  penaltyMs,
  keys: { state: `${name}:s`, log: `${name}:l`, block: `${name}:b` },
})

describe('LocalStore', () => {
  it('consumes from every rule or none, and peeks without consuming', () => {
    const s = new LocalStore(10)
    const rules = [rule('a', 2), rule('b', 5)]
    expect(s.run('c', rules, 2, 0)[0]).toBe(1)
    expect(s.run('c', rules, 1, 1)[0]).toBe(0)
    // b untouched by the denied request: 3 left
    expect(s.run('p', [rules[1]!], 1, 2)).toEqual([1, 2, 1, 2, 998, 0, 0])
    expect(s.size).toBe(2)
  })

  it('applies penalties and blocks, keeps the longer block, forgets on delete and clear', () => {
    const s = new LocalStore(10)
    const r = rule('p', 1, 5000)
    s.run('c', [r], 1, 0)
    const denied = s.run('c', [r], 1, 10)
    expect(denied.slice(2)).toEqual([0, 0, 5000, 5000, 1])
    expect(s.run('c', [r], 1, 2000).slice(2)).toEqual([0, 0, 3010, 3010, 1])
    s.block([r.keys.block], 100, 2000) // shorter: ignored
    expect(s.run('c', [r], 1, 2200)[0]).toBe(0)
    s.delete(Object.values(r.keys))
    expect(s.run('c', [r], 1, 2200)[0]).toBe(1)
    s.block([r.keys.block], 100, 2200)
    s.clear()
    expect(s.size).toBe(0)
    expect(s.run('c', [r], 1, 2200)[0]).toBe(1)
  })

  it('is bounded: the oldest keys are evicted first', () => {
    const s = new LocalStore(2)
    for (const name of ['x', 'y', 'z']) s.run('c', [rule(name, 1)], 1, 0)
    expect(s.size).toBe(2)
    expect(s.run('c', [rule('x', 1)], 1, 1)[0]).toBe(1) // x was evicted, so it starts afresh
    for (let i = 0; i < 4; i++) s.block([`b${i}`], 1000, 0)
    expect(s.run('c', [{ ...rule('q', 1), keys: { state: 'q:s', log: 'q:l', block: 'b0' } }], 1, 1)[0]).toBe(
      1,
    )
    expect(
      s.run('c', [{ ...rule('q2', 1), keys: { state: 'q2:s', log: 'q2:l', block: 'b3' } }], 1, 1)[0],
    ).toBe(0)
  })

  it('refunds like refund.lua: a unit given back passes again, nothing for an unknown or expired key', () => {
    const s = new LocalStore(10)
    const r = rule('f', 2)
    s.run('c', [r], 2, 0)
    expect(s.run('c', [r], 1, 1)[0]).toBe(0)
    expect(s.refund([r], 1, 2)).toBe(1)
    expect(s.run('c', [r], 1, 3)[0]).toBe(1)
    expect(s.refund([rule('unknown', 2)], 1, 3)).toBe(0)
    // the window is over: the state expired, nothing to give back
    expect(s.refund([r], 1, 1500)).toBe(0)
  })
})
