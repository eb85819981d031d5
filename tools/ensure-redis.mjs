#!/usr/bin/env node
// Makes sure a `redis-server` binary is available for the test harness.
// Order: $REDIS_SERVER_BIN, then PATH. When missing: as root, install Debian's redis-server package with
// apt-get; otherwise print the exact command to run and exit 1. No dependencies: runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return undefined
}

function version(bin) {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  return out.status === 0 ? out.stdout.trim() : undefined
}

const wanted = process.env.REDIS_SERVER_BIN
const found = wanted ? (version(wanted) ? wanted : undefined) : onPath('redis-server')
if (found) {
  console.log(`[ensure-redis] using ${found}: ${version(found)}`)
  process.exit(0)
}
if (wanted) {
  console.error(`[ensure-redis] REDIS_SERVER_BIN=${wanted} is not an executable redis-server`)
  process.exit(1)
}
const install = 'apt-get update && apt-get install -y --no-install-recommends redis-server'
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
if (!isRoot || !onPath('apt-get')) {
  console.error(
    `[ensure-redis] redis-server not found. Install it with:\n  sudo ${install}\nor set REDIS_SERVER_BIN.`,
  )
  process.exit(1)
}
console.log(`[ensure-redis] redis-server not found; running: ${install}`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
execFileSync('sh', ['-c', install], { stdio: 'inherit', env })
// Debian's package starts a service on 6379; the harness never uses it, and CI machines may not run systemd.
const bin = onPath('redis-server')
if (!bin) {
  console.error('[ensure-redis] apt-get finished but redis-server is still not on PATH')
  process.exit(1)
}
console.log(`[ensure-redis] installed ${bin}: ${version(bin)}`)
