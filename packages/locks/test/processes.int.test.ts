import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const worker = fileURLToPath(new URL('./child-worker.ts', import.meta.url))
const root = fileURLToPath(new URL('../../..', import.meta.url))

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@cache/source', '--import', 'tsx', worker, ...args],
      {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr?.on('data', (c) => {
      stderr += c
    })
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`worker exited ${code}: ${stderr}`)),
    )
  })
}

describe.each(['standalone', 'cluster'] as const)('4 processes contending for one lock on %s', (kind) => {
  const namespace = uniquePrefix('locks')
  const { standalone, cluster } = inject('redis')
  const target = kind === 'cluster' ? JSON.stringify(cluster.nodes) : standalone.url
  let conn: Connection

  beforeAll(async () => {
    conn =
      kind === 'cluster'
        ? await connect({ cluster: { nodes: cluster.nodes }, namespace })
        : await connect({ url: standalone.url, namespace })
  })
  afterAll(async () => {
    await conn.close()
  })

  it('zero overlapping critical sections, strictly increasing fencing tokens', async () => {
    const rounds = 25
    await Promise.all(
      ['p1', 'p2', 'p3', 'p4'].map((label) => run([target, namespace, label, String(rounds)])),
    )
    const log = conn.keys.key('log')
    const records = await conn.send<string[]>(['LRANGE', log, '0', '-1'], { key: log })
    expect(records).toHaveLength(4 * rounds * 2)
    let last = 0
    const holders = new Set<string>()
    for (let i = 0; i < records.length; i += 2) {
      const [kind, token, label] = String(records[i]).split(':')
      const [exitKind, exitToken, exitLabel] = String(records[i + 1]).split(':')
      // Every enter is followed by the exit of the same holder: no one entered in between.
      expect([kind, exitKind]).toEqual(['enter', 'exit'])
      expect([exitToken, exitLabel]).toEqual([token, label])
      expect(Number(token)).toBeGreaterThan(last)
      last = Number(token)
      holders.add(String(label))
    }
    expect(holders.size).toBe(4)
  })
})
