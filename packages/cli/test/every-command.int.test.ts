import { uniquePrefix } from '@cache/tools'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { COMMANDS } from '../src/index.js'
import { cacheInProcess, ensureBuilt, RUNNERS, type Runner, target } from './helpers.js'

const redis = inject('redis')
beforeAll(() => ensureBuilt(), 900_000)

/** The smallest valid arguments of every command (a command added without a case fails the first test). */
const CASES: Record<string, string[]> = {
  health: [],
  keys: ['--limit', '5', '--rate', '100000'],
  inspect: ['no-such-key', '--rate', '100000'],
  invalidate: ['--pattern', '*', '--rate', '100000', '--dry-run'],
  bigkeys: ['--top', '1', '--rate', '100000'],
  stats: [],
  locks: [],
  limits: ['--rate', '100000'],
  queues: ['--rate', '100000'],
  sessions: [],
  acl: ['generate', '--user', 'ops'],
  bench: ['--requests', '50'],
}

function everyCommand(cache: Runner, flags: string[]) {
  it('--json on every command: one JSON document on stdout, exit 0 or 1 (1 = a problem found)', async () => {
    for (const [name, args] of Object.entries(CASES)) {
      const r = await cache([name, ...args, '--json', ...flags])
      expect([0, 1], `${name}: ${r.stderr}`).toContain(r.code)
      const doc = r.json<{ ok?: boolean }>()
      expect(typeof doc, name).toBe('object')
      expect(doc.ok, name).not.toBe(false)
      expect(r.stderr, name).not.toContain('\x1b[') // no progress or colour off a terminal
    }
  })

  it('a bad flag on every command: exit 2 and a JSON error with code E_USAGE', async () => {
    for (const [name, args] of Object.entries(CASES)) {
      const r = await cache([name, ...args, '--json', '--no-such-flag', ...flags])
      expect(r.code, name).toBe(2)
      expect(r.json(), name).toMatchObject({ ok: false, error: { code: 'E_USAGE' } })
      expect(r.json<{ error: { message: string } }>().error.message, name).toContain('--no-such-flag')
    }
  })
}

describe('every command', () => {
  it('has a case here', () => {
    expect(Object.keys(CASES).sort()).toEqual(COMMANDS.map((c) => c.name).sort())
  })

  it('a typo names what it likely meant; a bad shared flag is refused before connecting (exit 2)', async () => {
    const down = ['--url', 'redis://127.0.0.1:1']
    const typo = await cacheInProcess(['keys', '--rtae', '5', ...down])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('--rtae is not a flag of `cache keys`; did you mean --rate?')
    const command = await cacheInProcess(['kyes', ...down])
    expect(command.code).toBe(2)
    expect(command.stderr).toContain('command "kyes" is unknown; did you mean "keys"?')
    for (const [args, message] of [
      [['queues', '--window', '7s'], '--window must be a multiple of 10s'],
      [['limits', '--cursor', 'abc'], '--cursor must be "<master>:<cursor>"'],
      [['invalidate', '--pattern', '*', '--rate', 'fast'], '--rate must be a whole number'],
    ] as const) {
      const r = await cacheInProcess([...args, ...down])
      expect(r.code, args.join(' ')).toBe(2)
      // The flag's own error, not "cannot connect": it was checked first.
      expect(r.stderr, args.join(' ')).toContain(message)
    }
  })

  it('never echoes a password: a URL or REDIS_PASSWORD secret, on an unreachable server (exit 2)', async () => {
    const secret = `pw-${uniquePrefix('secret')}`
    for (const [name, args] of Object.entries(CASES)) {
      const viaUrl = await cacheInProcess([name, ...args, '--url', `redis://ops:${secret}@127.0.0.1:1`])
      const viaEnv = await cacheInProcess([name, ...args, '--json'], {
        env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_PASSWORD: secret, CACHE_ACL_PASSWORD: secret },
      })
      for (const r of [viaUrl, viaEnv]) {
        expect(r.stdout + r.stderr, name).not.toContain(secret)
        // acl generate needs no server; every other command cannot connect.
        expect(r.code, name).toBe(name === 'acl' ? 0 : 2)
      }
    }
  })
})

// The bin on standalone (end to end), run() in-process on standalone and Cluster (coverage).
describe.each(RUNNERS)('%s', (mode, cache) => {
  const kinds = mode === 'bin' ? (['standalone'] as const) : (['standalone', 'cluster'] as const)
  describe.each(kinds)('on %s', (kind) => {
    everyCommand(cache, [...target(redis, kind), '--namespace', uniquePrefix('cli')])
  })
})

describe('on a terminal (in-process: stdout and stderr are TTYs)', () => {
  const flags = [...target(redis, 'standalone'), '--namespace', uniquePrefix('cli')]

  it('colours the status, draws a progress bar with an ETA, and stats --watch redraws the screen', async () => {
    const health = await cacheInProcess(['health', ...flags], { tty: true })
    expect(health.code, health.stderr).toBe(0)
    expect(health.stdout).toContain('\x1b[') // a styled "ok"
    const plain = await cacheInProcess(['health', ...flags], { tty: true, env: { NO_COLOR: '1' } })
    expect(plain.stdout).not.toContain('\x1b[')
    const keys = await cacheInProcess(['keys', '--batch', '10', ...flags], { tty: true })
    expect(keys.code, keys.stderr).toBe(0)
    expect(keys.stderr).toContain('\r\x1b[2K') // the progress line, replaced and cleared
    expect(keys.stderr).toContain('ETA')
    const watch = await cacheInProcess(
      ['stats', '--watch', '--interval', '200ms', '--iterations', '2', ...flags],
      {
        tty: true,
      },
    )
    expect(watch.code, watch.stderr).toBe(0)
    expect(watch.stdout.split('\x1b[H\x1b[2J').length - 1).toBe(2)
  })
})
