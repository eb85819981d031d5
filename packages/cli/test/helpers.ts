import { execFile, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { type Connection, connect } from '@cache/client'
import { run } from '../src/index.js'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const bin = join(pkg, 'dist/esm/bin.js')

function newestSource(dir: string): number {
  let newest = 0
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.test.ts')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs)
  }
  return newest
}

/**
 * Builds this package (ESM + CJS, as `npm run build` does, which builds the packages it depends on first)
 * when dist/ is missing or older than src/, under a lock so test files starting together build it once.
 * The tests then run the built bin, as `npx cache` does.
 */
export function ensureBuilt(): void {
  const stamp = Math.ceil(newestSource(join(pkg, 'src')) / 1000)
  const script = `test -f ${bin} && [ "$(stat -c %Y ${bin})" -ge "${stamp}" ] || node ../../tools/build-package.mjs`
  execFileSync('flock', ['/tmp/cache-cli-build.lock', 'sh', '-c', script], {
    cwd: pkg,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (!existsSync(bin)) throw new Error('the build did not produce dist/esm/bin.js')
}

/** What one run of the bin printed and returned. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T
}

/** Runs `node dist/esm/bin.js …args` with only PATH and `env` in its environment (no REDIS_* leaks in). */
export function cache(args: string[], options: RunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      {
        env: { PATH: process.env.PATH ?? '', ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        if (code === -1) return reject(Object.assign(err ?? new Error('failed'), { stdout, stderr }))
        resolve({ code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T })
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

/** Options of one run: its environment (nothing else of the test's), its stdin, a time limit. */
export interface RunOptions {
  env?: Record<string, string>
  input?: string
  timeoutMs?: number
  /** In-process only: stdout and stderr say they are a terminal (colours, progress, redraws). */
  tty?: boolean
}

/** Runs the `cache` command one way: the built bin in a child process, or `run(argv, io)` in this process. */
export type Runner = (args: string[], options?: RunOptions) => Promise<CliRun>

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(Buffer.from(c)))
  return () => Buffer.concat(chunks).toString('utf8')
}

/**
 * Runs the command through `run(argv, io)` from the sources, in this process, with streams of its own and
 * `env` as its whole environment: the same code path as the bin (which only calls run), so coverage counts.
 */
export async function cacheInProcess(args: string[], options: RunOptions = {}): Promise<CliRun> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out = collect(stdout)
  const err = collect(stderr)
  if (options.tty)
    Object.assign(stdout, { isTTY: true, columns: 120 }) && Object.assign(stderr, { isTTY: true })
  const stdin = Readable.from(options.input === undefined ? [] : [options.input])
  const code = await run(args, { stdout, stderr, stdin, env: { ...options.env } })
  stdout.end()
  stderr.end()
  await Promise.all([once(stdout, 'end'), once(stderr, 'end')])
  const text = out()
  return { code, stdout: text, stderr: err(), json: <T>() => JSON.parse(text) as T }
}

/**
 * Both ways of running a command, for `describe.each(RUNNERS)`: the built bin end to end (as `npx cache`
 * does) and in-process through `run()` (so the coverage of the sources is measured).
 */
export const RUNNERS: [string, Runner][] = [
  ['bin', cache],
  ['in-process', cacheInProcess],
]

/** The connection flags of a shared harness topology. */
export function target(
  redis: { standalone: { url: string }; cluster: { nodes: { host: string; port: number }[] } },
  kind: 'standalone' | 'cluster',
): string[] {
  return kind === 'standalone'
    ? ['--url', redis.standalone.url]
    : ['--cluster', redis.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')]
}

/** A connection to a shared harness topology, under `namespace` (what the tests write through). */
export function connectTo(
  redis: { standalone: { url: string }; cluster: { nodes: { host: string; port: number }[] } },
  kind: 'standalone' | 'cluster',
  namespace: string,
): Promise<Connection> {
  return connect(
    kind === 'standalone'
      ? { url: redis.standalone.url, namespace }
      : { cluster: { nodes: redis.cluster.nodes }, namespace },
  )
}
