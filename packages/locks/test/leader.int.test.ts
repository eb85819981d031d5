import type { Connection } from '@cache/client'
import { waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LeaderElection, type LeadershipEvent } from '../src/index.js'
import { sharedConnection } from './helpers.js'

describe('leader election', () => {
  let conn: Connection

  beforeAll(async () => {
    conn = await sharedConnection('standalone')
  })
  afterAll(async () => {
    await conn.close()
  })

  it('elects one leader; on resignation or lease loss another takes over with a higher term', async () => {
    const events: Array<[string, string, LeadershipEvent]> = []
    const candidates = ['a', 'b'].map((id) => {
      const e = new LeaderElection(conn, 'scheduler', { ttl: 300, id, retryInterval: 50 })
      e.on('elected', (ev: LeadershipEvent) => events.push([id, 'elected', ev]))
      e.on('revoked', (ev: LeadershipEvent) => events.push([id, 'revoked', ev]))
      return e
    })
    await Promise.all(candidates.map((c) => c.start()))
    await candidates[0]!.start() // idempotent
    const first = await waitFor('a leader', () => candidates.find((c) => c.isLeader))
    expect(candidates.filter((c) => c.isLeader)).toHaveLength(1)
    const term1 = first.term!
    expect(await first.leader()).toEqual({ id: first.id, term: term1 })
    // Resign: the other candidate is elected, with a higher term.
    await first.close()
    expect(first.isLeader).toBe(false)
    expect(first.term).toBeUndefined()
    const second = await waitFor('a new leader', () => candidates.find((c) => c.isLeader))
    expect(second).not.toBe(first)
    expect(second.term!).toBeGreaterThan(term1)
    // Lease lost (deleted on the server): revoked with E_LOCK_LOST, and leadership is re-established.
    const term2 = second.term!
    const key = `${conn.keys.namespace}:leader:{scheduler}`
    await conn.send(['DEL', key], { key })
    await waitFor('revoked', () =>
      events.some(([id, kind, ev]) => id === second.id && kind === 'revoked' && ev.term === term2),
    )
    const third = await waitFor('re-elected', () => candidates.find((c) => c.isLeader))
    expect(third.term!).toBeGreaterThan(term2)
    await Promise.all(candidates.map((c) => c.close()))
    expect(await first.leader()).toBeNull()
    expect(events.filter(([, k]) => k === 'elected').map(([, , e]) => e.term)).toEqual(
      [...events.filter(([, k]) => k === 'elected').map(([, , e]) => e.term)].sort((x, y) => x - y),
    )
    expect(events.find(([id, kind]) => id === first.id && kind === 'revoked')?.[2].reason).toBe('resigned')
    expect(events.find(([id, kind]) => id === second.id && kind === 'revoked')?.[2].reason).toBe(
      'E_LOCK_LOST',
    )
  })

  it('rejects bad options naming the field', () => {
    expect(() => new LeaderElection(conn, '', {})).toThrow(expect.objectContaining({ field: 'name' }))
    expect(() => new LeaderElection(conn, 'x', { ttl: '1y' })).toThrow(
      expect.objectContaining({ field: 'ttl' }),
    )
  })
})
