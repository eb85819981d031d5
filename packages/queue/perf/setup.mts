/**
 * What the queue perf scripts share: a harness server, our queue and a raw BullMQ Queue with the same job
 * options, the bench payload, and the server's CPU and per-command counts (INFO cpu / commandstats).
 */
import { connect } from '@cache/client'
import { defineQueue } from '@cache/queue'
import { startStandalone } from '@cache/tools'
import { type ConnectionOptions, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { z } from 'zod'

const Data = z.object({ id: z.number(), user: z.string(), note: z.string() })
export const data = (id: number) => ({ id, user: `u${id % 1000}`, note: 'x'.repeat(50) })

export async function setup() {
  const server = await startStandalone()
  const conn = await connect({ url: server.url, namespace: 'bench-queue' })
  const rawConn = new Redis(conn.bullmq().options as never)
  const admin = new Redis(conn.bullmq().options as never)
  const ours = defineQueue(conn, 'ours', { namespace: 'q', jobs: { job: Data }, checks: false })
  const raw = new Queue('raw', {
    connection: rawConn as unknown as ConnectionOptions,
    prefix: 'bench-raw',
    defaultJobOptions: { ...ours.queue.defaultJobOptions },
  })
  /** redis-server's user + system CPU so far, µs. */
  const serverCpuUs = async (): Promise<number> => {
    const text = (await admin.info('cpu')) as string
    const u = /used_cpu_user:([\d.]+)/.exec(text)?.[1] ?? '0'
    const sy = /used_cpu_sys:([\d.]+)/.exec(text)?.[1] ?? '0'
    return (Number(u) + Number(sy)) * 1e6
  }
  /** Calls per command since the last CONFIG RESETSTAT. */
  const cmdstats = async (): Promise<Map<string, number>> => {
    const text = (await admin.info('commandstats')) as string
    const m = new Map<string, number>()
    for (const line of text.split('\n')) {
      const r = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
      if (r) m.set(r[1] as string, Number(r[2]))
    }
    return m
  }
  const close = async () => {
    await ours.close()
    await raw.close()
    rawConn.disconnect()
    admin.disconnect()
    await conn.close()
    await server.stop()
  }
  return { conn, admin, ours, raw, serverCpuUs, cmdstats, close }
}
