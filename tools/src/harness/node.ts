import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './ports.js'
import { makeTempDir, removeTempDir, trackPid, untrackPid } from './process-registry.js'
import { parseInfo, type RespReply, respCommand } from './resp.js'

/** The server binary: $REDIS_SERVER_BIN (e.g. valkey-server) or `redis-server` on PATH. */
export function serverBin(): string {
  return process.env.REDIS_SERVER_BIN || 'redis-server'
}

let cachedVersion: string | undefined
/** The version the server binary reports, e.g. "7.0.15". Throws with the install command when missing. */
export function serverVersion(): string {
  if (cachedVersion) return cachedVersion
  const out = spawnSync(serverBin(), ['--version'], { encoding: 'utf8' })
  if (out.status !== 0 || !out.stdout) {
    throw new Error(
      `[@cache/tools] ${serverBin()} not found: run \`node tools/ensure-redis.mjs\` or set REDIS_SERVER_BIN`,
    )
  }
  cachedVersion = /v=(\S+)/.exec(out.stdout)?.[1] ?? 'unknown'
  return cachedVersion
}

export interface RedisNodeOptions {
  /** A short label for the temp dir and logs. */
  label?: string
  /** Extra `redis.conf` directives, passed on the command line (`--name value`). */
  config?: Record<string, string | number>
  /** Start as a Sentinel with this config text (`port` is prepended by the harness). */
  sentinelConfig?: string
  /**
   * Require authentication: `password` sets requirepass (the default user); `users` adds ACL users with
   * full access. The harness itself authenticates with the password, else the first user.
   */
  auth?: { password?: string; users?: Array<{ name: string; password: string }> }
  /** Serve TLS only (the plain port is closed), with a throwaway CA and a certificate for localhost. */
  tls?: boolean
}

/** Writes a throwaway CA and a server certificate for 127.0.0.1 / localhost into `dir` with openssl. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string) => join(dir, name)
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=cache-test-ca',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  ])
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ])
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.crt'),
  ])
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') }
}

const START_TIMEOUT_MS = 15_000

/** One real `redis-server` (or sentinel) process on a free port in its own temp dir. */
export class RedisNode {
  readonly host = '127.0.0.1'
  readonly port: number
  readonly dir: string
  readonly isSentinel: boolean
  #args: string[]
  #proc: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #paused = false
  /** How the harness itself authenticates and connects. */
  readonly #reach: { auth?: string[]; tlsCa?: string }
  /** The CA certificate (PEM) clients must trust, when the node serves TLS. */
  readonly tlsCa: string | undefined

  private constructor(
    port: number,
    dir: string,
    args: string[],
    isSentinel: boolean,
    reach: { auth?: string[]; tlsCa?: string } = {},
  ) {
    this.port = port
    this.dir = dir
    this.#args = args
    this.isSentinel = isSentinel
    this.#reach = reach
    this.tlsCa = reach.tlsCa
  }

  /** Starts a node and waits until it answers PING. Retries on a port race with another process. */
  static async start(options: RedisNodeOptions = {}): Promise<RedisNode> {
    serverVersion()
    let lastError: unknown
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort()
      const dir = makeTempDir(options.label ?? 'node')
      const args = RedisNode.#argsFor(port, dir, options)
      const reach: { auth?: string[]; tlsCa?: string } = {}
      if (options.auth?.password) {
        args.push('--requirepass', options.auth.password)
        reach.auth = [options.auth.password]
      }
      for (const user of options.auth?.users ?? []) {
        args.push('--user', user.name, 'on', `>${user.password}`, '~*', '&*', '+@all')
        reach.auth ??= [user.name, user.password]
      }
      if (options.tls) {
        const files = makeCertificates(dir)
        const at = args.indexOf('--port')
        args.splice(at, 2, '--port', '0', '--tls-port', String(port))
        args.push('--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca)
        args.push('--tls-auth-clients', 'no')
        reach.tlsCa = readFileSync(files.ca, 'utf8')
      }
      const node = new RedisNode(port, dir, args, !!options.sentinelConfig, reach)
      try {
        await node.#spawn()
        return node
      } catch (err) {
        lastError = err
        await node.stop()
        if (!String(err).includes('Address already in use')) break
      }
    }
    throw lastError
  }

  static #argsFor(port: number, dir: string, options: RedisNodeOptions): string[] {
    const common = ['--bind', '127.0.0.1', '--protected-mode', 'no', '--dir', dir, '--logfile', 'redis.log']
    if (options.sentinelConfig) {
      const file = join(dir, 'sentinel.conf')
      writeFileSync(file, `port ${port}\n${options.sentinelConfig}\n`)
      return [file, '--sentinel', ...common]
    }
    const args = [
      '--port',
      String(port),
      ...common,
      '--save',
      '',
      '--appendonly',
      'no',
      '--enable-debug-command',
      'local',
      // Replicas sync at once instead of after the default 5 s wait for more replicas to join.
      '--repl-diskless-sync-delay',
      '0',
    ]
    for (const [name, value] of Object.entries(options.config ?? {})) args.push(`--${name}`, String(value))
    return args
  }

  async #spawn(): Promise<void> {
    const proc = spawn(serverBin(), this.#args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr?.on('data', (chunk) => {
      stderr += chunk
    })
    this.#proc = proc
    this.#paused = false
    const pid = proc.pid
    if (pid) trackPid(pid)
    this.#exited = new Promise((resolve) => {
      proc.once('exit', () => {
        if (pid) untrackPid(pid)
        if (this.#proc === proc) this.#proc = undefined
        resolve()
      })
    })
    const deadline = Date.now() + START_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (!this.#proc)
        throw new Error(`[@cache/tools] ${this.label} exited at start: ${stderr}${this.log(20)}`)
      try {
        if ((await respCommand(this.port, ['PING'], { timeoutMs: 500, ...this.#reach })) === 'PONG') return
      } catch {}
      await sleep(20)
    }
    throw new Error(
      `[@cache/tools] ${this.label} did not answer PING in ${START_TIMEOUT_MS}ms: ${this.log(20)}`,
    )
  }

  /** `host:port`, for logs and errors. */
  get label(): string {
    return `${this.isSentinel ? 'sentinel' : 'redis'}@${this.port}`
  }

  /** `redis://127.0.0.1:port`. */
  get url(): string {
    return `redis://${this.host}:${this.port}`
  }

  /** True while the process runs (paused counts as running). */
  get running(): boolean {
    return this.#proc !== undefined
  }

  get paused(): boolean {
    return this.#paused
  }

  /** The last `lines` lines of the node's log file. */
  log(lines = 50): string {
    const file = join(this.dir, 'redis.log')
    if (!existsSync(file)) return ''
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  }

  /** Sends one command with the harness's own RESP client. */
  command(args: ReadonlyArray<string | number>, timeoutMs = 3000): Promise<RespReply> {
    return respCommand(this.port, args, { timeoutMs, ...this.#reach })
  }

  /** `INFO [section]` parsed into a record. */
  async info(section?: string): Promise<Record<string, string>> {
    return parseInfo(String(await this.command(section ? ['INFO', section] : ['INFO'])))
  }

  /** SIGKILL: the node vanishes without closing connections cleanly. */
  async kill(): Promise<void> {
    const proc = this.#proc
    if (!proc) return
    if (this.#paused) proc.kill('SIGCONT')
    proc.kill('SIGKILL')
    await this.#exited
    this.#paused = false
  }

  /** SIGSTOP: the node keeps its sockets open but stops answering (a GC pause, a frozen VM). */
  pause(): void {
    if (!this.#proc || this.#paused) return
    this.#proc.kill('SIGSTOP')
    this.#paused = true
  }

  /** SIGCONT: a paused node carries on. */
  resume(): void {
    if (!this.#proc || !this.#paused) return
    this.#proc.kill('SIGCONT')
    this.#paused = false
  }

  /** Starts the node again on the same port and dir (after `kill`), so clients can reconnect to it. */
  async restart(): Promise<void> {
    await this.kill()
    await this.#spawn()
  }

  /** Kills the node and removes its temp dir. Idempotent. */
  async stop(): Promise<void> {
    await this.kill()
    removeTempDir(this.dir)
  }

  /** The replication role this node reports: 'master', 'slave' or 'sentinel'. */
  async role(): Promise<string> {
    const reply = await this.command(['ROLE'])
    return Array.isArray(reply) ? String(reply[0]) : String(reply)
  }
}
