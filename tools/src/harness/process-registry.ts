import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

let reaper: ChildProcess | undefined

function tell(line: string): void {
  if (!reaper) {
    const script = fileURLToPath(new URL('./reaper.mjs', import.meta.url))
    reaper = spawn(process.execPath, [script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
    reaper.unref()
    // The pipe must not keep this process alive: the reaper's whole point is to notice when we are gone.
    ;(reaper.stdin as unknown as { unref(): void }).unref()
  }
  reaper.stdin?.write(`${line}\n`)
}

/** Registers a server process with the reaper, which kills it if this process dies first. */
export function trackPid(pid: number): void {
  tell(`+pid ${pid}`)
}

/** The process exited normally; the reaper forgets it. */
export function untrackPid(pid: number): void {
  tell(`-pid ${pid}`)
}

/** Creates a temp dir that the reaper removes if this process dies before `removeTempDir`. */
export function makeTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cache-redis-${label}-`))
  tell(`+dir ${dir}`)
  return dir
}

/** Removes a temp dir made by `makeTempDir`. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tell(`-dir ${dir}`)
}
