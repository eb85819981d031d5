import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventStream } from '../src/index.js'
import { connectTo, type Kind, optionsFor, until } from './helpers.js'

const fixture = fileURLToPath(new URL('./fixtures/crash-consumer.ts', import.meta.url))
const root = fileURLToPath(new URL('../../..', import.meta.url))
const TOTAL = 40

describe.each<Kind>(['standalone', 'cluster'])('a consumer process killed mid-batch on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connectTo(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('has its pending messages reclaimed and processed by another consumer: none lost', async () => {
    const stream = new EventStream<import('zod').ZodType<number>>(conn, 'crash')
    await stream.appendMany(Array.from({ length: TOTAL }, (_, n) => n))
    const child = spawn(
      process.execPath,
      [
        '--conditions=@cache/source',
        '--import',
        'tsx',
        fixture,
        JSON.stringify({
          connect: { ...optionsFor(kind), namespace: conn.keys.namespace },
          stream: 'crash',
          group: 'workers',
        }),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const exited = new Promise((resolve) => child.once('exit', resolve))
    let stderr = ''
    child.stderr!.on('data', (chunk) => {
      stderr += chunk
    })
    const got = new Set<number>()
    const doneByChild = new Set<number>()
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, n] = line.split(' ')
      if (word === 'got') got.add(Number(n))
      if (word === 'done') doneByChild.add(Number(n))
    })
    try {
      await until('the child read a batch', () => got.size >= 10, 30_000).catch((err) => {
        throw new Error(`${err.message}; child stderr: ${stderr}`)
      })
      // Let the child acknowledge its finished (odd) events, or not: SIGKILL lands mid-flight either way.
      child.kill('SIGKILL')
      await exited
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    const pendingOfDead = await stream.pending('workers', { consumer: 'doomed' })
    expect(pendingOfDead.entries.length).toBeGreaterThanOrEqual(5) // the stuck even events at least

    const processed = new Map<number, number>()
    const rescuer = stream.consume(
      { group: 'workers', consumer: 'rescuer', blockMs: 50, claimIdleMs: 200, concurrency: 8 },
      (n, ctx) => {
        processed.set(n, (processed.get(n) ?? 0) + 1)
        if (pendingOfDead.entries.some((e) => e.id === ctx.id))
          expect(ctx.deliveries).toBeGreaterThanOrEqual(2)
      },
    )
    await until(
      'every event processed',
      () => {
        for (let n = 0; n < TOTAL; n++) if (!processed.has(n) && !doneByChild.has(n)) return false
        return true
      },
      20_000,
    )
    await until('nothing pending', async () => (await stream.pending('workers')).count === 0, 10_000)
    await rescuer.close()
    // No message lost: each one was finished by the dead child or by the rescuer.
    for (let n = 0; n < TOTAL; n++) expect(processed.has(n) || doneByChild.has(n)).toBe(true)
    // The stuck ones (even, read by the child) were reclaimed.
    for (const n of got) if (n % 2 === 0) expect(processed.get(n)).toBe(1)
    expect(rescuer.stats.claimed).toBeGreaterThanOrEqual(5)
    // At-least-once: events the child finished but did not get to acknowledge are processed again.
    const duplicates = [...doneByChild].filter((n) => processed.has(n))
    console.log(
      `[crash ${kind}] child read ${got.size}, finished ${doneByChild.size}; rescuer processed ${processed.size}, ` +
        `reclaimed ${rescuer.stats.claimed}; duplicates ${duplicates.length}`,
    )
    expect([...processed.values()].every((count) => count === 1)).toBe(true)
    // The child finished n % 4 === 1 events without acknowledging them: each is a counted duplicate.
    const unacked = [...doneByChild].filter((n) => n % 4 === 1)
    expect(unacked.length).toBeGreaterThan(0)
    for (const n of unacked) expect(duplicates).toContain(n)
  })
})
