import { connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import type { HealthResult } from '../src/index.js'
import { ensureBuilt, RUNNERS, target } from './helpers.js'

const redis = inject('redis')
beforeAll(() => ensureBuilt(), 900_000)

// Every test twice: the built bin end to end, and run() in-process (where coverage is measured).
describe.each(RUNNERS)('%s', (_mode, cache) => {
  describe.each(['standalone', 'cluster'] as const)('cache health on %s', (kind) => {
    it('reports every master and replica with role, version, latency, memory and replication; exit 0', async () => {
      const r = await cache(['health', '--json', ...target(redis, kind)])
      expect(r.code, r.stderr).toBe(0)
      const h = r.json<HealthResult>()
      expect(h.ok).toBe(true)
      expect(h.topology).toBe(kind)
      const masters = h.nodes.filter((n) => n.kind === 'master')
      const replicas = h.nodes.filter((n) => n.kind === 'replica')
      expect(masters).toHaveLength(kind === 'cluster' ? 3 : 1)
      expect(replicas).toHaveLength(kind === 'cluster' ? 3 : 1)
      for (const n of masters) {
        expect(n.role).toBe('master')
        expect(n.version).toMatch(/^\d+\.\d+/)
        expect(n.latencyMs).toBeGreaterThan(0)
        expect(n.usedMemory).toBeGreaterThan(0)
        expect(n.replication?.connectedReplicas).toBe(1)
      }
      for (const n of replicas) {
        expect(n.role).toBe('slave')
        expect(n.replication?.link).toBe('up')
        expect(masters.map((m) => m.address)).toContain(n.replication?.master)
      }
      if (kind === 'cluster') expect(h.cluster).toEqual({ state: 'ok', slotsOk: 16384, knownNodes: 6 })
    })

    it('prints a table without --json (no colour codes when not a terminal)', async () => {
      const r = await cache(['health', ...target(redis, kind)])
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/NODE\s+KIND\s+ROLE/)
      expect(r.stdout).toContain('healthy')
      expect(r.stdout).not.toContain('\x1b[')
    })
  })

  describe('cache health on Sentinel', () => {
    it('reports the master, its replica and every sentinel', async () => {
      const { sentinel } = redis
      const r = await cache([
        'health',
        '--json',
        '--sentinels',
        sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
        '--sentinel-name',
        sentinel.name,
      ])
      expect(r.code, r.stderr).toBe(0)
      const h = r.json<HealthResult>()
      expect(h.topology).toBe('sentinel')
      expect(h.nodes.filter((n) => n.kind === 'sentinel')).toHaveLength(sentinel.sentinels.length)
      expect(h.nodes.filter((n) => n.kind === 'master')).toHaveLength(1)
      expect(h.sentinel?.name).toBe(sentinel.name)
      expect(h.sentinel?.master).toBe(h.nodes.find((n) => n.kind === 'master')?.address)
    })
  })

  describe('connection and secrets', () => {
    it('reads the same environment variables as connect()', async () => {
      const r = await cache(['health', '--json'], { env: { REDIS_URL: redis.standalone.url } })
      expect(r.code, r.stderr).toBe(0)
      expect(r.json<HealthResult>().topology).toBe('standalone')
    })

    it('exits 2 when the server cannot be reached, and never prints the password (flag, URL or env)', async () => {
      const secret = `pw-${uniquePrefix('secret')}`
      const runs = await Promise.all([
        cache(['health', '--url', `redis://user:${secret}@127.0.0.1:1`]),
        cache(['health', '--json', '--url', `redis://user:${secret}@127.0.0.1:1`]),
        cache(['health'], { env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_PASSWORD: secret } }),
        cache(['health'], { env: { REDIS_URL: `redis://:${secret}@127.0.0.1:1/x` } }),
        cache(['health'], { env: { REDIS_URL: `not a url ${secret}` } }),
      ])
      for (const r of runs) {
        expect(r.code).toBe(2)
        expect(`${r.stdout}${r.stderr}`).not.toContain(secret)
        expect(`${r.stdout}${r.stderr}`).toMatch(/E_UNAVAILABLE|E_INVALID_OPTION/)
      }
      expect(runs[1]!.json<{ ok: boolean; error: { code: string } }>().error.code).toBe('E_UNAVAILABLE')
    })

    it('never prints the password of a server that requires one, in success or failure', async () => {
      const secret = `pw-${uniquePrefix('acl')}`
      const user = uniquePrefix('cli-user')
      // ACL users are not replicated: create it on the master and on its replica (health visits both).
      const ports = [redis.standalone.port, ...redis.standalone.replicaPorts]
      const conns = await Promise.all(ports.map((port) => connect({ port })))
      try {
        for (const c of conns) await c.send(['ACL', 'SETUSER', user, 'on', `>${secret}`, '~*', '&*', '+@all'])
        const url = `redis://${user}:${secret}@${redis.standalone.url.replace('redis://', '')}`
        const good = await cache(['health', '--json', '--url', url])
        expect(good.code, good.stderr).toBe(0)
        expect(good.stdout + good.stderr).not.toContain(secret)
        const bad = await cache(['health', '--url', url.replace(secret, `${secret}-wrong`)])
        expect(bad.code).toBe(2)
        expect(bad.stdout + bad.stderr).not.toContain(secret)
        expect(bad.stderr).toContain('E_AUTH')
      } finally {
        for (const c of conns) {
          await c.send(['ACL', 'DELUSER', user])
          await c.close()
        }
      }
    })
  })

  describe('usage', () => {
    it('exits 2 on an unknown command or flag, 0 for --help', async () => {
      const [unknown, flag, help, none, cmdHelp] = await Promise.all([
        cache(['nope']),
        cache(['health', '--bogus']),
        cache(['--help']),
        cache([]),
        cache(['health', '--help']),
      ])
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain('"nope" is unknown')
      expect(flag.code).toBe(2)
      expect(flag.stderr).toContain('--bogus')
      expect(help.code).toBe(0)
      expect(help.stdout).toContain('usage: cache <command>')
      expect(none.code).toBe(2)
      expect(cmdHelp.code).toBe(0)
      expect(cmdHelp.stdout).toContain('usage: cache health')
    })
  })
})
