import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ACL_PACKAGES, ACL_PROFILES, type AclPackage, CLIENT_PROFILE, commandOf } from './acl-profiles.js'

const PACKAGES = fileURLToPath(new URL('../..', import.meta.url))

function files(dir: string, ext: string): string[] {
  let out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out = out.concat(files(path, ext))
    else if (entry.name.endsWith(ext) && !/\.test(-d)?\.ts$/.test(entry.name)) out.push(path)
  }
  return out
}

/**
 * The commands a package's sources send: `redis.call('X'` in its Lua scripts, the first word (and the
 * subcommand) of `send(['X', 'Y'` / `sendCommand(['X'` in its TypeScript, and calls dispatched by a
 * ternary (`redis.call(a and 'SPUBLISH' or 'PUBLISH'`).
 */
function sentBy(pkg: string): Set<string> {
  const src = join(PACKAGES, pkg, 'src')
  const out = new Set<string>()
  for (const file of files(src, '.lua')) {
    const lua = readFileSync(file, 'utf8')
    for (const m of lua.matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'/g)) out.add(m[1]!.toLowerCase())
    for (const m of lua.matchAll(/redis\.p?call\([^,)]* and '([A-Z]+)' or '([A-Z]+)'/g)) {
      out.add(m[1]!.toLowerCase())
      out.add(m[2]!.toLowerCase())
    }
    // `redis.call(unpack(args))` builds its command in a table: `local args = { 'XADD', …`
    for (const m of lua.matchAll(/local args = \{\s*'([A-Z]+)'/g)) out.add(m[1]!.toLowerCase())
  }
  for (const file of files(src, '.ts')) {
    if (file.endsWith(join('scripts', 'index.ts'))) continue
    const ts = readFileSync(file, 'utf8')
    for (const m of ts.matchAll(
      /(?:send|sendCommand)(?:<[^>]*>)?\(\s*(?:[a-z]+,\s*(?:false|true|[a-z.]+),\s*)?\[\s*'([A-Z]+)'(?:,\s*'([A-Z]+)')?/g,
    ))
      out.add(commandOf(m[2] ? `${m[1]} ${m[2]}` : m[1]!))
  }
  return out
}

function granted(profile: { probes: readonly string[] }): Set<string> {
  return new Set(profile.probes.map(commandOf))
}

describe('ACL profiles match what the packages send', () => {
  it('@cache/client', () => {
    const missing = [...sentBy('client')].filter((c) => !granted(CLIENT_PROFILE).has(c))
    expect(missing).toEqual([])
  })

  const present = ACL_PACKAGES.filter((p) => {
    try {
      return readdirSync(join(PACKAGES, p, 'src')).length > 0
    } catch {
      return false
    }
  })
  it.each(present)('@cache/%s', (pkg: AclPackage) => {
    const mine = granted(ACL_PROFILES[pkg])
    const base = granted(CLIENT_PROFILE)
    const sent = sentBy(pkg)
    // @cache/queue's CONFIG GET maxmemory-policy is a start-up check that tolerates refusal (a warning).
    if (pkg === 'queue') sent.delete('config|get')
    // AuditLog.importAclLog's ACL LOG is granted only with `aclLog: true`; verifyAcl's ACL DRYRUN and the
    // ACL SETUSER in its docs run on an operator connection.
    // @cache/metrics' server diagnostics are granted only with `diagnostics: true`.
    if (pkg === 'metrics')
      for (const c of sent) if (/^(slowlog|latency)\||^memory\|stats$/.test(c)) sent.delete(c)
    if (pkg === 'security') for (const c of ['acl|log', 'acl|dryrun', 'acl|setuser']) sent.delete(c)
    const missing = [...sent].filter((c) => !mine.has(c) && !base.has(c))
    expect(missing).toEqual([])
    // The scan found the package's commands (BullMQ's are declared from its own scripts, not scanned here).
    if (pkg !== 'queue') expect(sent.size).toBeGreaterThan(pkg === 'tiered' ? 1 : 4)
  })
})
