import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Connection } from '@cache/client'
import { defineQueue } from '@cache/queue'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { LOG_RELATIVE_ERROR, Metrics } from '../src/index.js'
import { sharedConnection, target } from './helpers.js'
import { exactQuantile } from './samples.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const script = fileURLToPath(new URL('./child-queue-worker.ts', import.meta.url))

interface Worker {
  child: ChildProcess
  ready: Promise<void>
  exited: Promise<number | null>
}

/** A worker process; every completed job's `{ runMs, waitMs }` is pushed to `done`. */
function startWorker(args: string[], done: Array<{ runMs: number; waitMs?: number; by?: string }>): Worker {
  const child = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', script, ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let onReady!: () => void
  const ready = new Promise<void>((resolve) => {
    onReady = resolve
  })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') onReady()
    else done.push({ ...JSON.parse(line), by: args[3] })
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { child, ready, exited }
}

describe.each(['standalone', 'cluster'] as const)('queue latency histograms on %s', (kind) => {
  const namespace = uniquePrefix('metrics')
  let conn: Connection
  let metrics: Metrics

  beforeAll(async () => {
    conn = await sharedConnection(kind, namespace)
    metrics = new Metrics(conn, { id: 'reader' })
  })
  afterAll(async () => {
    await metrics.close()
    await conn.close()
  })

  it('run and wait p99 of real workers in 2 processes come out of metrics.query, merged within 1%', async () => {
    const queueName = `q${Math.random().toString(36).slice(2, 8)}`
    const queue = defineQueue(conn, queueName, {
      namespace: 'jobs',
      jobs: { sleep: z.object({ ms: z.number() }) },
      checks: false,
    })
    const done: Array<{ runMs: number; waitMs?: number; by?: string }> = []
    const workers = ['w1', 'w2'].map((id) => startWorker([target(kind), namespace, queueName, id], done))
    try {
      await Promise.all(workers.map((w) => w.ready))
      const start = Date.now()
      const n = 120
      await queue.addBulk(
        Array.from({ length: n }, (_, i) => ({ name: 'sleep', data: { ms: 1 + ((i * 7) % 30) } })),
      )
      while (done.length < n) await new Promise((r) => setTimeout(r, 50))
      for (const w of workers) w.child.stdin!.write('stop\n')
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0])
      // Both processes ran jobs: the histograms merge what two Metrics instances flushed.
      expect(new Set(done.map((d) => d.by))).toEqual(new Set(['w1', 'w2']))
      const from = Math.floor((start - 10_000) / 10_000) * 10_000
      const step = Math.ceil((Date.now() + 20_000 - from) / 10_000) * 10_000
      const q = (name: string, fn: 'p99' | 'p50' | 'count') =>
        metrics
          .query({ name, labels: { queue: queueName }, from, to: from + step, step, fn })
          .then((r) => r.points[0]!.value!)

      const runs = done.map((d) => d.runMs / 1000)
      expect(await q('cache_queue_run_seconds', 'count')).toBe(n)
      for (const [fn, quant] of [
        ['p99', 0.99],
        ['p50', 0.5],
      ] as const) {
        const exact = exactQuantile(runs, quant)
        expect(Math.abs((await q('cache_queue_run_seconds', fn)) - exact) / exact).toBeLessThanOrEqual(
          LOG_RELATIVE_ERROR,
        )
      }
      // waitMs is on every completed message of this @cache/queue; an older one without it observes nothing.
      const waits = done.filter((d) => typeof d.waitMs === 'number').map((d) => d.waitMs! / 1000)
      expect(waits).toHaveLength(n)
      expect(await q('cache_queue_wait_seconds', 'count')).toBe(n)
      const exactWait = exactQuantile(waits, 0.99)
      const p99Wait = await q('cache_queue_wait_seconds', 'p99')
      expect(Math.abs(p99Wait - exactWait) / exactWait).toBeLessThanOrEqual(LOG_RELATIVE_ERROR)
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL')
      await queue.close()
    }
  }, 60_000)
})
