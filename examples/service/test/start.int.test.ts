/**
 * `npm start`'s entry (src/main.ts) as a child process: it prints the URLs, serves, and on SIGINT exits 0
 * leaving no redis-server behind. Plus the typed errors of its configuration.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { isCacheError } from '@cache/client'
import { waitFor } from '@cache/tools'
import { describe, expect, it } from 'vitest'
import { parseStartConfig, resolveOptions } from '../src/index.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))

function redisRunning(port: number): boolean {
  try {
    return execFileSync('pgrep', ['-f', `redis-server 127.0.0.1:${port}`], { encoding: 'utf8' }).trim() !== ''
  } catch {
    return false // pgrep exits 1 when nothing matches
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isCacheError(err, 'E_INVALID_OPTION')
      ? `${err.code} ${(err as { details?: { field?: string } }).details?.field}`
      : String(err)
  }
  return undefined
}

describe('npm start', () => {
  it('prints the URLs, serves the API, and stops everything it started on SIGINT', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--conditions=@cache/source',
        '--import',
        'tsx',
        'examples/service/src/main.ts',
        '--no-load',
        '--port',
        '0',
      ],
      {
        cwd: root,
        env: { ...process.env, REDIS_URL: '', NODE_ENV: 'development' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout?.on('data', (d) => {
      out += String(d)
    })
    child.stderr?.on('data', (d) => {
      out += String(d)
    })
    const exited = once(child, 'exit')
    try {
      await waitFor('the URLs', () => out.includes('Ctrl-C stops everything'), {
        timeoutMs: 150_000,
        intervalMs: 100,
      })
      const redisPort = Number(/redis-server at redis:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1])
      const api = /API\s+(http:\/\/\S+)\/api/.exec(out)?.[1] as string
      expect(redisPort).toBeGreaterThan(0)
      expect(out).toMatch(/Dashboard\s+http:\/\/127\.0\.0\.1:\d+\/dashboard\//)
      expect(out).toMatch(/Token\s+\S{16,}/)
      expect(redisRunning(redisPort)).toBe(true)
      const health = await (await fetch(`${api}/healthz`)).json()
      expect(health).toMatchObject({ ok: true, redis: 'up' })

      child.kill('SIGINT')
      const [code] = await exited
      expect(code).toBe(0)
      expect(out).toContain('Stopped.')
      await waitFor('redis-server gone', () => !redisRunning(redisPort), { timeoutMs: 10_000 })
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 240_000)

  it('refuses bad configuration with typed errors naming the option', () => {
    expect(codeOf(() => parseStartConfig(['--port', 'abc'], {}))).toBe('E_INVALID_OPTION port')
    expect(codeOf(() => parseStartConfig(['--port', '70000'], {}))).toBe('E_INVALID_OPTION port')
    expect(codeOf(() => parseStartConfig(['--bogus'], {}))).toBe('E_INVALID_OPTION --bogus')
    expect(codeOf(() => parseStartConfig([], { REDIS_URL: 'http://x' }))).toBe('E_INVALID_OPTION redisUrl')
    expect(codeOf(() => parseStartConfig(['--cluster'], { REDIS_URL: 'redis://h:1' }))).toBe(
      'E_INVALID_OPTION cluster',
    )
    expect(codeOf(() => parseStartConfig([], { PAYMENTS_FAILURE_RATE: '2' }))).toBe(
      'E_INVALID_OPTION paymentsFailureRate',
    )
    expect(parseStartConfig(['--no-load', '--port=0'], { REDIS_URL: 'redis://127.0.0.1:1' })).toMatchObject({
      load: false,
      port: 0,
      redisUrl: 'redis://127.0.0.1:1',
    })
    expect(codeOf(() => resolveOptions({ redis: {}, port: -1 }))).toBe('E_INVALID_OPTION port')
    expect(codeOf(() => resolveOptions({ redis: {}, limits: { userRequests: 0 } }))).toBe(
      'E_INVALID_OPTION limits.userRequests',
    )
    expect(codeOf(() => resolveOptions({ redis: {}, bogus: 1 } as never))).toMatch(/^E_INVALID_OPTION/)
    expect(codeOf(() => resolveOptions({ redis: {}, jobDurability: { replicas: 0, timeout: '1s' } }))).toBe(
      'E_INVALID_OPTION jobDurability.replicas',
    )
    expect(resolveOptions({ redis: {}, jobDurability: false }).jobDurability).toBe(false)
  })
})
