import { type Connection, connect } from '@cache/client'
import { uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { RuleStore } from '../src/index.js'

const { standalone, cluster } = inject('redis')

describe.each([
  ['standalone', { url: standalone.url }],
  ['cluster', { cluster: { nodes: cluster.nodes } }],
] as const)('live rules in Redis (%s)', (_name, target) => {
  // two connections and two stores stand for two processes
  let c1: Connection
  let c2: Connection
  let s1: RuleStore
  let s2: RuleStore
  beforeAll(async () => {
    const namespace = uniquePrefix('rl-rules')
    ;[c1, c2] = await Promise.all([connect({ ...target, namespace }), connect({ ...target, namespace })])
    s1 = new RuleStore(c1)
    s2 = new RuleStore(c2, { refresh: '10s' })
  })
  afterAll(async () => {
    await Promise.all([s1?.close(), s2?.close()])
    await Promise.all([c1?.close(), c2?.close()])
  })

  it('an update in one process reaches live limiters in the others, usage carries over', async () => {
    await s1.set('api', { algorithm: 'fixed-window', limit: 2, window: '1h' })
    const here = await s1.limiter('api')
    const there = await s2.limiter('api', { blockCache: false })
    expect(there.rule.params.limit).toBe(2)
    await here.consume('u', { cost: 2 })
    expect((await there.consume('u')).allowed).toBe(false)
    await s1.set('api', { algorithm: 'fixed-window', limit: 5, window: '1h' })
    await waitFor('rule reaches the other process', () => there.rule.params.limit === 5, { timeoutMs: 5000 })
    expect(await there.consume('u')).toMatchObject({ allowed: true, remaining: 2, limit: 5 })
    expect(await s2.get('api')).toEqual({ algorithm: 'fixed-window', limit: 5, window: 3_600_000 })
    expect(Object.keys(await s2.list())).toEqual(['api'])
  })

  it('falls back when no rule is stored; refresh() picks up a rule written without a notice', async () => {
    const l = await s2.limiter('later', { fallback: { algorithm: 'gcra', limit: 3, window: '1m' } })
    expect(l.rule.params.limit).toBe(3)
    await s1.set('later', { algorithm: 'gcra', limit: 7, window: '1m' })
    await waitFor('notice', () => l.rule.params.limit === 7, { timeoutMs: 5000 })
    expect(await s1.delete('later')).toBe(true)
    expect(await s1.delete('later')).toBe(false)
    await s2.refresh()
    expect(l.rule.params.limit).toBe(7) // a deleted rule leaves the last one in force
  })

  it('rejects invalid rules and names, and a missing rule without fallback', async () => {
    await expect(s1.set('bad', { algorithm: 'gcra', limit: 0, window: '1m' })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'limit',
    })
    await expect(
      s1.set('bad', { algorithm: 'fixed-window', limit: 5, window: '1m', burst: 9 }),
    ).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'burst',
    })
    await expect(s1.set('a:b', { algorithm: 'gcra', limit: 1, window: '1m' })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'name',
    })
    await expect(s1.limiter('missing')).rejects.toMatchObject({ code: 'E_INVALID_OPTION', field: 'fallback' })
    expect(() => new RuleStore(c1, { refresh: 1 })).toThrow(expect.objectContaining({ field: 'refresh' }))
  })
})
