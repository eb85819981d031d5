import { uniquePrefix } from '@cache/tools'
import { Queue, Worker } from 'bullmq'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type Connection, connect } from '../src/index.js'

const { standalone } = inject('redis')

describe('conn.bullmq() with real BullMQ', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connect({ url: standalone.url, namespace: uniquePrefix('bullmq') })
  })
  afterAll(() => conn.close())

  it('gives options a BullMQ queue and worker run a job with', async () => {
    const opts = conn.bullmq()
    if (opts.kind === 'cluster') throw new Error('unreachable')
    const prefix = conn.keys.key('bull')
    const queue = new Queue('bridge', { connection: opts.options as never, prefix })
    const worker = new Worker('bridge', async (job) => ({ doubled: (job.data as { n: number }).n * 2 }), {
      connection: opts.options as never,
      prefix,
    })
    try {
      const done = new Promise<unknown>((resolve, reject) => {
        worker.on('completed', (_job, result) => resolve(result))
        worker.on('failed', (_job, err) => reject(err))
      })
      await queue.add('double', { n: 21 })
      expect(await done).toEqual({ doubled: 42 })
      expect(await queue.getJobCounts('completed')).toEqual({ completed: 1 })
      // The queue's keys live under the connection's namespace.
      expect((await conn.redis.keys(`${prefix}:bridge:*`)).length).toBeGreaterThan(0)
    } finally {
      await worker.close()
      await queue.obliterate({ force: true })
      await queue.close()
    }
  })
})
