import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { freePort, RedisNode, respCommand, serverVersion, startStandalone, waitFor } from '../src/index.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('harness', () => {
  const started: RedisNode[] = []
  afterAll(() => Promise.all(started.map((n) => n.stop())))

  it('finds the server binary and never uses port 6379', async () => {
    expect(serverVersion()).toMatch(/^\d+\.\d+/)
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()))
    expect(new Set(ports).size).toBe(20)
    expect(ports).not.toContain(6379)
    expect(ports.every((p) => p + 10000 < 65536)).toBe(true)
  })

  it('shares running topologies with test files', async () => {
    const { standalone, sentinel, cluster } = inject('redis')
    expect(await respCommand(standalone.port, ['PING'])).toBe('PONG')
    expect(sentinel.sentinels).toHaveLength(3)
    const info = String(await respCommand(cluster.nodes[0]!.port, ['CLUSTER', 'INFO']))
    expect(info).toContain('cluster_state:ok')
  })

  it('kills, pauses, resumes and restarts a node', async () => {
    const node = await RedisNode.start({ label: 'faults' })
    started.push(node)
    await node.command(['SET', 'k', 'v'])
    node.pause()
    expect(node.paused).toBe(true)
    await expect(node.command(['PING'], 300)).rejects.toThrow(/timeout/)
    node.resume()
    expect(await node.command(['PING'])).toBe('PONG')
    await node.kill()
    expect(node.running).toBe(false)
    await expect(node.command(['PING'], 300)).rejects.toThrow()
    await node.restart()
    expect(node.running).toBe(true)
    expect(await node.command(['GET', 'k'])).toBeNull() // no persistence: a restart starts empty
    expect(node.log()).toContain('Ready to accept connections')
  })

  it('starts replicas that are in sync', async () => {
    const topo = await startStandalone({ replicas: 2 })
    try {
      await topo.master.command(['SET', 'r', '1'])
      expect(await topo.master.command(['WAIT', '2', '5000'])).toBe(2)
      for (const r of topo.replicas)
        await waitFor(`${r.label} has the write`, async () => (await r.command(['GET', 'r'])) === '1')
      expect(await topo.replicas[0]!.role()).toBe('slave')
    } finally {
      await topo.stop()
    }
    expect(existsSync(topo.master.dir)).toBe(false)
  })

  it('cleans up servers and temp dirs when the owning process is SIGKILLed', async () => {
    const script = `
      import { startStandalone } from '@cache/tools'
      const t = await startStandalone({ replicas: 1 })
      console.log(JSON.stringify({ pids: t.nodes.map((n) => n.port), dirs: t.nodes.map((n) => n.dir) }))
      setInterval(() => {}, 1000)
    `
    const child = spawn(
      process.execPath,
      ['--conditions=@cache/source', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (c) => {
        out += c
        if (out.includes('\n')) resolve(out.trim())
      })
      child.once('exit', () => reject(new Error(`child exited early: ${out}`)))
    })
    const { pids: ports, dirs } = JSON.parse(line) as { pids: number[]; dirs: string[] }
    for (const p of ports) expect(await respCommand(p, ['PING'])).toBe('PONG')
    child.kill('SIGKILL')
    await waitFor(
      'servers gone',
      async () => {
        for (const p of ports) {
          try {
            await respCommand(p, ['PING'], { timeoutMs: 200 })
            return false
          } catch {}
        }
        return true
      },
      { timeoutMs: 10_000 },
    )
    await waitFor('temp dirs gone', () => dirs.every((d) => !existsSync(d)), { timeoutMs: 5000 })
    expect(alive(child.pid!)).toBe(false)
  })
})
