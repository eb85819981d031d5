import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type Peer, spawnPeer } from './fixtures/peers.js'

const { standalone } = inject('redis')
const root = uniquePrefix('tiered-st')
let conn: Connection

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: root })
})
afterAll(async () => {
  await conn?.close()
})

describe('getOrSet stampede across processes', () => {
  it('1,000 concurrent misses on one key from 4 processes run the factory exactly once', async () => {
    const namespace = uniquePrefix('hot')
    const peers: Peer[] = Array.from({ length: 4 }, () =>
      spawnPeer({ url: standalone.url, root, namespace, coherence: 'tracking' }),
    )
    try {
      await Promise.all(peers.map((p) => p.ready))
      const replies = await Promise.all(peers.map((p) => p.send('gos', 'hot', 250)))
      for (const r of replies) expect(r.error).toBeUndefined()
      expect(replies.reduce((s, r) => s + Number(r.calls), 0)).toBe(1)
      expect(Number(await conn.send(['GET', `${root}:calls`]))).toBe(1)
      // Every caller in every process got the single winner's value.
      const winners = new Set(replies.flatMap((r) => r.value as number[]))
      expect(winners.size).toBe(1)
      // The other processes' calls were saved.
      const stats = await Promise.all(peers.map((p) => p.send('stats')))
      const saved = stats.reduce(
        (s, r) => s + (r.value as { factoryCallsSaved: number }).factoryCallsSaved,
        0,
      )
      expect(saved).toBeGreaterThanOrEqual(999)
    } finally {
      for (const p of peers) p.kill()
      await conn.send(['DEL', `${root}:calls`])
    }
  })
})
