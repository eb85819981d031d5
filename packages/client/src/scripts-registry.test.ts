import { describe, expect, it } from 'vitest'
import { ScriptRegistry } from './scripts-registry.js'
import type { Arg } from './types.js'

describe('ScriptRegistry key counts', () => {
  const sent: Arg[][] = []
  const registry = new ScriptRegistry(async <T>(args: Arg[]) => {
    sent.push(args)
    return 'ok' as T
  })

  it('a fixed count rejects any other count before sending', async () => {
    const fixed = registry.define('fixed', 'return 1', { keys: 2 })
    await expect(fixed(['{a}1'])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    expect(await fixed(['{a}1', '{a}2'])).toBe('ok')
    expect(sent.at(-1)?.slice(2, 5)).toEqual(['2', '{a}1', '{a}2'])
  })

  it('{ multipleOf } takes any non-zero multiple under one name and sha, and checks slots all the same', async () => {
    const before = sent.length
    const batch = registry.define('batch', 'return 2', { keys: { multipleOf: 2 } })
    expect(await batch(['{a}1', '{a}2'])).toBe('ok')
    expect(await batch(['{a}1', '{a}2', '{a}3', '{a}4'])).toBe('ok')
    expect(sent.slice(before).map((a) => [a[1], a[2]])).toEqual([
      [batch.sha, '2'],
      [batch.sha, '4'],
    ])
    await expect(batch([])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await expect(batch(['{a}1', '{a}2', '{a}3'])).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringContaining('a non-zero multiple of 2'),
    })
    await expect(batch(['{a}1', '{a}2', '{b}1', '{b}2'])).rejects.toMatchObject({ code: 'E_CROSSSLOT' })
    expect(sent.length).toBe(before + 2)
  })
})
