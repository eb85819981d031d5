import { CacheError, type Connection, InvalidArgumentError } from '@cache/client'
import type { Acl } from './acl.js'
import { FORBIDDEN_PROBES } from './acl-profiles.js'
import { PKG } from './defaults.js'

/** One probe `verifyAcl` ran. */
export interface AclProbeResult {
  /** The package that sends it (`client` for @cache/client's own commands), or `forbidden`. */
  package: string
  /** The command as run through ACL DRYRUN, e.g. `GET app:acl-probe`. */
  command: string
  /** The server's answer when it differs from what was expected. */
  reason: string
}

/** What `verifyAcl` found on one master. */
export interface AclNodeReport {
  address: string
  /** Commands a package sends that the live user may not run. */
  missing: AclProbeResult[]
  /** Commands the user should be refused but may run. */
  excess: AclProbeResult[]
  /** Probes run on this node. */
  checked: number
}

/** Result of `verifyAcl()`. */
export interface AclReport {
  /** True when every master grants exactly what the packages need (nothing missing, nothing excess). */
  ok: boolean
  user: string
  nodes: AclNodeReport[]
}

function fill(probe: string, acl: Acl, foreign: string): string[] {
  return probe
    .split(' ')
    .map((word) =>
      word
        .replace('{k}', acl.samples.key)
        .replace('{q}', acl.samples.queue)
        .replace('{c}', acl.samples.channel)
        .replace('{p}', acl.samples.prefix)
        .replace('{x}', foreign),
    )
}

/**
 * Checks the live ACL of `acl.user` on every master against what the packages need: each command a
 * package sends is replayed through `ACL DRYRUN` (nothing runs) with keys and channels inside the
 * namespace, and each forbidden command (FLUSHALL, CONFIG, KEYS, DEBUG, keys of other namespaces…) must
 * be refused. `conn` needs ACL DRYRUN (an operator connection, not the checked user).
 *
 * @example
 * const report = await verifyAcl(adminConn, generateAcl({ user: 'app', namespaces: ['app'] }))
 * if (!report.ok) console.error(report.nodes.flatMap((n) => n.missing))
 */
export async function verifyAcl(conn: Connection, acl: Acl): Promise<AclReport> {
  if (!acl || typeof acl.user !== 'string' || typeof acl.probes !== 'object')
    throw new InvalidArgumentError(PKG, 'acl', 'must be the result of generateAcl()')
  const foreign = `acl-verify-${process.pid}-other:x`
  const nodes: AclNodeReport[] = []
  for (const node of await conn.masters()) {
    const report: AclNodeReport = { address: node.address, missing: [], excess: [], checked: 0 }
    const dryrun = async (args: string[]): Promise<string> => {
      try {
        return String(await node.send(['ACL', 'DRYRUN', acl.user, ...args]))
      } catch (err) {
        const message = String((err as { cause?: Error }).cause?.message ?? (err as Error).message)
        if (/User .* not found/i.test(message))
          throw new CacheError(
            'E_COMMAND',
            `[${PKG}] ACL user "${acl.user}" does not exist on ${node.address}`,
            {
              cause: err,
              details: { user: acl.user, node: node.address },
            },
          )
        return message
      }
    }
    for (const [pkg, probes] of Object.entries(acl.probes)) {
      for (const probe of probes) {
        const args = fill(probe, acl, foreign)
        const reply = await dryrun(args)
        report.checked++
        if (reply !== 'OK') report.missing.push({ package: pkg, command: args.join(' '), reason: reply })
      }
    }
    for (const probe of FORBIDDEN_PROBES) {
      const args = fill(probe, acl, foreign)
      const reply = await dryrun(args)
      report.checked++
      if (reply === 'OK')
        report.excess.push({ package: 'forbidden', command: args.join(' '), reason: 'allowed' })
    }
    nodes.push(report)
  }
  return { ok: nodes.every((n) => n.missing.length === 0 && n.excess.length === 0), user: acl.user, nodes }
}
