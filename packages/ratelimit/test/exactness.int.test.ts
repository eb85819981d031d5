import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { uniquePrefix } from '@cache/tools'
import { describe, expect, inject, it } from 'vitest'
import { ALGORITHMS } from '../src/index.js'

const run = promisify(execFile)
const { standalone, cluster } = inject('redis')
const child = fileURLToPath(new URL('./fixtures/consumer.ts', import.meta.url))
const root = fileURLToPath(new URL('../../..', import.meta.url))

const PROCESSES = 4
const CONCURRENCY = 64
const LIMIT = 150

async function hammer(target: { url: string } | { nodes: Array<{ host: string; port: number }> }) {
  const namespace = uniquePrefix('rl-exact')
  const input = JSON.stringify({ target, namespace, limit: LIMIT, concurrency: CONCURRENCY, attempts: 4 })
  const outputs = await Promise.all(
    Array.from({ length: PROCESSES }, () =>
      run(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', child], {
        cwd: root,
        env: { ...process.env, RL_CHILD: input },
        timeout: 40_000,
      }),
    ),
  )
  const total: Record<string, number> = {}
  for (const { stdout } of outputs) {
    const counts = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>
    for (const [algorithm, n] of Object.entries(counts)) total[algorithm] = (total[algorithm] ?? 0) + n
  }
  return total
}

/**
 * 4 processes × 64 concurrent consumers × 4 attempts (1024 requests per algorithm) on one key with a
 * limit of 150 per (30-day) window: exactly 150 must be allowed, under every algorithm (on a fresh key the
 * sliding-window counter has no previous window to approximate, so it is exact too).
 */
describe('exactness across processes', () => {
  it('standalone: allowed == limit for every algorithm', async () => {
    const total = await hammer({ url: standalone.url })
    for (const algorithm of ALGORITHMS) expect(total[algorithm], algorithm).toBe(LIMIT)
  })

  it('cluster: allowed == limit for every algorithm', async () => {
    const total = await hammer({ nodes: cluster.nodes })
    for (const algorithm of ALGORITHMS) expect(total[algorithm], algorithm).toBe(LIMIT)
  })
})
