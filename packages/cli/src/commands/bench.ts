import { randomBytes } from 'node:crypto'
import { type Connection, LatencyRing, type LatencySummary } from '@cache/client'
import type { Command } from '../command.js'
import { intFlag } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { formatMs, table } from '../output.js'

/** One operation of `cache bench`. */
export interface BenchOp extends LatencySummary {
  op: string
  opsPerSecond: number
}

/** The result of `cache bench`. */
export interface BenchResult {
  topology: string
  requests: number
  concurrency: number
  valueBytes: number
  ops: BenchOp[]
}

async function measure(
  op: string,
  requests: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<BenchOp> {
  const ring = new LatencyRing(Math.min(requests, 100_000))
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const s = performance.now()
        await fn(i)
        ring.since(s)
      }
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  return { op, opsPerSecond: requests / seconds, ...ring.summary() }
}

/** SET, GET and PING through the guarded connection, on keys spread over every slot; the keys are removed after. */
export async function bench(
  conn: Connection,
  requests: number,
  concurrency: number,
  valueBytes: number,
): Promise<BenchResult> {
  const run = randomBytes(4).toString('hex')
  const key = (i: number) => conn.keys.key('bench', run, i)
  const value = randomBytes(valueBytes)
  try {
    const ops = [
      await measure('PING', requests, concurrency, () => conn.send(['PING'])),
      await measure('SET', requests, concurrency, (i) =>
        conn.send(['SET', key(i), value, 'PX', '600000'], { key: key(i) }),
      ),
      await measure('GET', requests, concurrency, (i) =>
        conn.send(['GET', key(i)], { key: key(i), buffers: true }),
      ),
    ]
    return { topology: conn.topology, requests, concurrency, valueBytes, ops }
  } finally {
    for (let i = 0; i < requests; i += 256)
      await Promise.all(
        Array.from({ length: Math.min(256, requests - i) }, (_, j) =>
          conn.send(['UNLINK', key(i + j)], { key: key(i + j) }),
        ),
      )
  }
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'a quick latency and throughput check of this deployment (PING, SET, GET)',
  usage:
    'bench [--requests 5000] [--concurrency 16] [--size 100]\n\n' +
    '  writes --requests keys of --size bytes under <namespace>:bench:<run>:* (10-minute TTL) and removes them',
  flags: { requests: { type: 'string' }, concurrency: { type: 'string' }, size: { type: 'string' } },
  async run({ conn, values, out }) {
    const r = await bench(
      conn,
      intFlag(values, 'requests', 5000, { min: 1, max: 1_000_000 }),
      intFlag(values, 'concurrency', 16, { min: 1, max: 1024 }),
      intFlag(values, 'size', 100, { min: 0, max: 16 * 1024 * 1024 }),
    )
    out.result(r, () =>
      [
        `${r.topology}: ${r.requests} requests per op, concurrency ${r.concurrency}, ${r.valueBytes}-byte values`,
        table([
          ['OP', 'OPS/S', 'P50', 'P99'],
          ...r.ops.map((o) => [o.op, Math.round(o.opsPerSecond), formatMs(o.p50), formatMs(o.p99)]),
        ]),
      ].join('\n'),
    )
    return EXIT.OK
  },
}
