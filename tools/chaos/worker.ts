/** The service's job worker as a child process (examples/service/src/worker.ts), so it can be SIGKILLed. */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { trackPid, untrackPid } from '../src/harness/process-registry.js'
import { waitFor } from '../src/harness/wait.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const WORKER = join(root, 'examples/service/src/worker.ts')

/** A restartable worker process; its output goes to `logFile`. */
export class WorkerProcess {
  #proc: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #log: WriteStream
  #output = ''
  /** How many times it was started. */
  starts = 0

  constructor(
    readonly env: Record<string, string>,
    readonly logFile: string,
  ) {
    this.#log = createWriteStream(logFile, { flags: 'a' })
  }

  get running(): boolean {
    return this.#proc !== undefined
  }

  /** Spawns the worker and waits until it says it is ready (a line containing "ready") or 30 s pass. */
  async start(): Promise<void> {
    if (this.#proc) return
    const proc = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', WORKER], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'development', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.starts++
    this.#proc = proc
    this.#output = ''
    const pid = proc.pid
    if (pid) trackPid(pid)
    const onData = (chunk: Buffer) => {
      this.#output += chunk
      this.#log.write(chunk)
    }
    proc.stdout?.on('data', onData)
    proc.stderr?.on('data', onData)
    this.#exited = new Promise((resolve) => {
      proc.once('exit', () => {
        if (pid) untrackPid(pid)
        if (this.#proc === proc) this.#proc = undefined
        resolve()
      })
    })
    await waitFor(
      'worker process ready',
      () => {
        if (!this.#proc) throw new Error(`worker exited at start: ${this.#output.slice(-2000)}`)
        return /ready|started|listening/i.test(this.#output)
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    )
  }

  /** SIGKILL: the worker dies mid-job, holding job locks it never releases. */
  async kill(): Promise<void> {
    const proc = this.#proc
    if (!proc) return
    proc.kill('SIGKILL')
    await this.#exited
  }

  /** SIGTERM, then SIGKILL after 5 s: the end of a scenario. */
  async stop(): Promise<void> {
    const proc = this.#proc
    if (proc) {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await this.#exited
      clearTimeout(timer)
    }
    await new Promise<void>((resolve) => this.#log.end(resolve))
  }
}
