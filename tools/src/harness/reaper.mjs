// The harness's dead-man switch. Each process that starts servers spawns one reaper and tells it, line by
// line on stdin, which pids and temp dirs it owns ("+pid 123", "-pid 123", "+dir /tmp/x", "-dir /tmp/x").
// When stdin reaches EOF the owner has exited, however it died (crash, SIGKILL, vitest timeout): the
// reaper then SIGKILLs what is left and removes the dirs. Plain JS, no dependencies.
import { rmSync } from 'node:fs'
import { createInterface } from 'node:readline'

const pids = new Set()
const dirs = new Set()
const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  const [op, ...rest] = line.split(' ')
  const arg = rest.join(' ')
  if (op === '+pid') pids.add(Number(arg))
  else if (op === '-pid') pids.delete(Number(arg))
  else if (op === '+dir') dirs.add(arg)
  else if (op === '-dir') dirs.delete(arg)
})
lines.on('close', () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  // Give the kernel a moment to release the processes' open files before deleting their dirs.
  setTimeout(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  }, 200)
})
