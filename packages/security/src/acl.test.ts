import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { codeOfSync } from '@cache/tools'
import { describe, expect, it } from 'vitest'
import { renderUsersAcl, USERS_ACL_PATH } from '../scripts/gen-users-acl.js'
import { generateAcl } from './acl.js'
import { ACL_PACKAGES, ACL_PROFILES, commandOf, FORBIDDEN_PROBES } from './acl-profiles.js'

describe('generateAcl', () => {
  it('grants exactly the commands of the chosen packages, keys and channels in the namespace', () => {
    const acl = generateAcl({ user: 'app', namespaces: ['app'], packages: ['core', 'locks'] })
    expect(acl.keys).toEqual(['~app:*'])
    expect(acl.channels).toEqual(['&app:*'])
    expect(acl.commands).toContain('spublish')
    expect(acl.commands).toContain('evalsha')
    expect(acl.commands).not.toContain('client|tracking') // tiered only
    expect(acl.commands).not.toContain('xreadgroup') // events only
    expect(acl.rules).toEqual([`ACL SETUSER app ${acl.args.join(' ')}`])
    expect(acl.args.slice(0, 2)).toEqual(['reset', 'on'])
    expect(acl.args).toContain('-@all')
    expect(acl.args.indexOf('resetchannels')).toBeLessThan(acl.args.indexOf('&app:*'))
    expect(Object.keys(acl.probes)).toEqual(['client', 'core', 'locks'])
  })

  it('adds tracking invalidations for tiered and BullMQ prefixes for queue', () => {
    const acl = generateAcl({ user: 'app', packages: ['tiered', 'queue'], queueNamespaces: ['jobs'] })
    expect(acl.channels).toEqual(['&cache:*', '&__redis__:invalidate'])
    expect(acl.keys).toEqual(['~cache:*', '~jobs:*', '~{jobs:*'])
    expect(acl.commands).toEqual(expect.arrayContaining(['client|tracking', 'client|id', 'bzpopmin']))
    expect(Object.keys(acl.probes)).toEqual(['client', 'core', 'tiered', 'queue']) // tiered's L2 is core
  })

  it('a reader gets read commands and %R~ patterns only', () => {
    const acl = generateAcl({ user: 'ro', namespaces: ['a', 'b'], readOnly: true })
    expect(acl.keys).toEqual(['%R~a:*', '%R~b:*', '%R~queue:*', '%R~{queue:*'])
    for (const write of ['set', 'del', 'hset', 'xadd', 'evalsha', 'zadd', 'publish'])
      expect(acl.commands).not.toContain(write)
    expect(acl.commands).toContain('get')
  })

  it('never grants a forbidden command, whatever the packages', () => {
    const acl = generateAcl({ user: 'app', aclLog: true })
    for (const probe of FORBIDDEN_PROBES.filter((p) => !p.includes('{x}')))
      expect(acl.commands, probe).not.toContain(commandOf(probe))
    expect(acl.commands).toContain('acl|log') // aclLog: true, for AuditLog.importAclLog
    expect(generateAcl({ user: 'app' }).commands).not.toContain('acl|log')
    expect(generateAcl({ user: 'm', diagnostics: true }).commands).toEqual(
      expect.arrayContaining(['slowlog|get', 'latency|latest', 'memory|stats']),
    )
    expect(generateAcl({ user: 'm' }).commands).not.toContain('slowlog|get')
  })

  it('leaves out commands the target Redis does not know', () => {
    expect(generateAcl({ user: 'a', redisVersion: '7.0.15' }).commands).not.toContain('client|setinfo')
    expect(generateAcl({ user: 'a' }).commands).not.toContain('client|setinfo') // 7.0: the oldest supported
    expect(generateAcl({ user: 'a', redisVersion: '7.2' }).commands).toContain('client|setinfo')
    expect(generateAcl({ user: 'a', redisVersion: '8.0.1' }).commands).toContain('client|setinfo')
  })

  it('writes the password as a SHA-256 hash, never in clear', () => {
    const password = 'correct-horse-battery-staple'
    const acl = generateAcl({ user: 'app', password })
    const hash = createHash('sha256').update(password).digest('hex')
    expect(acl.args).toContain(`#${hash}`)
    expect(JSON.stringify(acl)).not.toContain(password)
    expect(generateAcl({ user: 'app', passwordHash: hash }).args).toContain(`#${hash}`)
    expect(generateAcl({ user: 'app' }).args.some((a) => a.startsWith('#') || a.startsWith('>'))).toBe(false)
  })

  it('refuses bad options with E_INVALID_OPTION naming the field, without echoing a password', () => {
    const bad: Array<[unknown, string]> = [
      [{ user: 'default' }, 'user'],
      [{ user: 'a b' }, 'user'],
      [{ user: 'a', namespaces: [] }, 'namespaces'],
      [{ user: 'a', namespaces: ['a::b'] }, 'namespaces.0'],
      [{ user: 'a', packages: ['nope'] }, 'packages.0'],
      [{ user: 'a', password: 'short' }, 'password'],
      [{ user: 'a', password: 'x'.repeat(20), passwordHash: 'a'.repeat(64) }, 'password'],
      [{ user: 'a', passwordHash: 'xyz' }, 'passwordHash'],
      [{ user: 'a', redisVersion: 'latest' }, 'redisVersion'],
      [{ user: 'a', extra: 1 }, ''],
    ]
    for (const [input, field] of bad) {
      let err: any
      try {
        generateAcl(input as never)
      } catch (e) {
        err = e
      }
      expect(err?.code, JSON.stringify(input)).toBe('E_INVALID_OPTION')
      if (field) expect(err.details.field, JSON.stringify(input)).toBe(field)
    }
    expect(codeOfSync(() => generateAcl({ user: 'a', password: 'tiny-secret' }))).toBe('E_INVALID_OPTION')
    try {
      generateAcl({ user: 'a', password: 'tiny-secret' })
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('tiny-secret')
    }
  })

  it('a reader of every package keeps at least one command of each (nothing is write-only but queue)', () => {
    const acl = generateAcl({ user: 'ro', readOnly: true })
    for (const p of ACL_PACKAGES) expect(acl.probes[p]?.length, p).toBeGreaterThan(0)
    expect(acl.probes.client!.length).toBeLessThan(ACL_PROFILES.core.probes.length + 20)
  })
})

describe('docs/deploy/users.acl', () => {
  it('is the generated file (run packages/security/scripts/gen-users-acl.ts after changing a profile)', () => {
    expect(readFileSync(USERS_ACL_PATH, 'utf8')).toBe(renderUsersAcl())
  })
})
