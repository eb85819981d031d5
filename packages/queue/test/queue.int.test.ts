import { connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { z } from 'zod'
import { defineQueue } from '../src/index.js'

describe.each(['standalone', 'cluster', 'sentinel'] as const)('defineQueue on %s', (kind) => {
  const { standalone, cluster, sentinel } = inject('redis')
  const ns = uniquePrefix('queue')
  const connP =
    kind === 'cluster'
      ? connect({ cluster: { nodes: cluster.nodes }, namespace: ns })
      : kind === 'sentinel'
        ? connect({ sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, namespace: ns })
        : connect({ url: standalone.url, namespace: ns })
  afterAll(async () => (await connP).close())

  it('refuses bad data naming the field, processes good data, sends schema-invalid jobs to the DLQ', async () => {
    const conn = await connP
    const q = defineQueue(conn, 'emails', {
      namespace: ns,
      jobs: { welcome: z.object({ to: z.string(), n: z.number() }) },
    })
    await expect(q.add('welcome', { to: 'a', n: 'x' as never })).rejects.toMatchObject({
      code: 'E_INVALID_PAYLOAD',
      details: { field: 'n' },
    })
    expect(await q.queue.count()).toBe(0)
    await q.addBulk([{ name: 'welcome', data: { to: 'b', n: 2 } }])
    await q.queue.add('welcome', { to: 'c' }) // a hand-made job that skips validation
    const seen: number[] = []
    const w = q.process({ welcome: async (job) => void seen.push(job.data.n) })
    await w.waitUntilReady()
    for (let i = 0; i < 100 && (seen.length < 1 || (await q.deadLetter.count()) < 1); i++)
      await new Promise((r) => setTimeout(r, 50))
    expect(seen).toEqual([2])
    const dead = await q.deadLetter.getJobs(['waiting'])
    expect(dead.map((j) => j.data.data)).toEqual([{ to: 'c' }])
    await q.close()
    await q.close()
  })
})
