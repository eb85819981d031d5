import { createHash } from 'node:crypto'
import { escapeGlob, parseOptions } from '@cache/client'
import { z } from 'zod'
import {
  ACL_LOG_PROBES,
  ACL_PACKAGES,
  ACL_PROFILES,
  type AclPackage,
  CLIENT_PROFILE,
  COMMAND_SINCE,
  commandOf,
  DIAGNOSTICS_PROBES,
  READ_COMMANDS,
} from './acl-profiles.js'
import { PKG } from './defaults.js'

/** Options of `generateAcl()`. */
export interface AclOptions {
  /** The ACL user name. */
  user: string
  /**
   * Its password, written as a SHA-256 hash (`#<hex>`), never in clear. Without `password` and
   * `passwordHash` the user has no password and cannot log in until one is added.
   */
  password?: string
  /** The SHA-256 hex of the password, when you do not want to pass the password itself. */
  passwordHash?: string
  /** The connection namespaces (`connect({ namespace })`) the user may touch. @default ['cache'] */
  namespaces?: string[]
  /** The packages the application uses; @cache/client's own needs are always included. @default every package */
  packages?: AclPackage[]
  /** BullMQ prefixes of @cache/queue (`defineQueue(conn, name, { namespace })`). @default ['queue'] */
  queueNamespaces?: string[]
  /** A reader: read commands only and `%R~` key patterns. @default false */
  readOnly?: boolean
  /**
   * The oldest Redis the rules are loaded on: commands newer than it (CLIENT SETINFO, 7.2) are left out,
   * since Redis refuses rules naming commands it does not know. On 7.2+ say so, or each connection's
   * CLIENT SETINFO (node-redis ignores the refusal) shows up in ACL LOG. @default '7.0'
   */
  redisVersion?: string
  /** Grant ACL LOG, which `AuditLog.importAclLog()` reads (an admin command). @default false */
  aclLog?: boolean
  /** Grant @cache/metrics' server diagnostics (SLOWLOG, LATENCY LATEST, MEMORY STATS; admin commands). @default false */
  diagnostics?: boolean
}

/** A generated ACL user. */
export interface Acl {
  /** The user name. */
  readonly user: string
  /** `ACL SETUSER` lines to run (on every master, and on replicas that may be promoted). */
  readonly rules: readonly string[]
  /** The arguments after `ACL SETUSER <user>`, for `conn.send(['ACL', 'SETUSER', user, ...args])`. */
  readonly args: readonly string[]
  /** The `users.acl` text (`aclfile` format, which allows no comments): `user default off`, then this user. */
  readonly file: string
  /** Granted commands in ACL syntax (`get`, `client|tracking`). */
  readonly commands: readonly string[]
  /** Key patterns (`~ns:*`, `%R~ns:*`). */
  readonly keys: readonly string[]
  /** Channel patterns (`&ns:*`, `&__redis__:invalidate`). */
  readonly channels: readonly string[]
  /** Per package, the commands it sends with placeholder arguments (what `verifyAcl` replays). */
  readonly probes: Readonly<Record<string, readonly string[]>>
  /** Key prefixes `{k}`/`{q}` placeholders resolve to, and a prefix of a foreign namespace. */
  readonly samples: {
    readonly key: string
    readonly queue: string
    readonly channel: string
    readonly prefix: string
  }
}

const NAMESPACE = /^[A-Za-z0-9._\-@/=+,;!$&()']+(:[A-Za-z0-9._\-@/=+,;!$&()']+)*$/

const schema = z
  .object({
    user: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dots, dashes or underscores')
      .refine((u) => u !== 'default', 'must not be "default" (it is turned off)'),
    password: z.string().min(16, 'must be at least 16 characters').optional(),
    passwordHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (SHA-256)')
      .optional(),
    namespaces: z
      .array(z.string().regex(NAMESPACE, "must be ':'-separated namespace parts"))
      .min(1)
      .default(['cache']),
    packages: z
      .array(z.enum(ACL_PACKAGES))
      .min(1)
      .default([...ACL_PACKAGES]),
    queueNamespaces: z
      .array(z.string().regex(/^[A-Za-z0-9._\-@/=+]+$/, 'must be letters, digits and ._-@/=+'))
      .min(1)
      .default(['queue']),
    readOnly: z.boolean().default(false),
    aclLog: z.boolean().default(false),
    diagnostics: z.boolean().default(false),
    redisVersion: z
      .string()
      .regex(/^\d+\.\d+(\.\d+)?$/, "must be a version such as '7.2' or '7.0.15'")
      .default('7.0'),
  })
  .strict()
  .refine((o) => !(o.password && o.passwordHash), {
    path: ['password'],
    message: 'give password or passwordHash, not both',
  })

function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)]
}

/**
 * Generates a least-privilege ACL user for the packages an application uses: exactly the commands they
 * send (with their subcommands), keys under the given namespaces only (`%R~` for a reader), and their
 * pub/sub channels (`__redis__:invalidate` for tiered tracking). Everything else is refused.
 *
 * @example
 * const acl = generateAcl({ user: 'app', namespaces: ['app'], packages: ['core', 'tiered', 'locks'] })
 * for (const line of acl.rules) console.log(line)
 */
export function generateAcl(options: AclOptions): Acl {
  const o = parseOptions(PKG, schema, options)
  const packages = unique(o.packages.flatMap((p) => [...(ACL_PROFILES[p].requires ?? []), p]))
  const [major = 0, minor = 0] = o.redisVersion.split('.').map(Number)
  const known = (probe: string) => {
    const since = COMMAND_SINCE[commandOf(probe)]
    return !since || major > since[0] || (major === since[0] && minor >= since[1])
  }
  const keep = (probe: string) => known(probe) && (!o.readOnly || READ_COMMANDS.has(commandOf(probe)))
  const probes: Record<string, string[]> = { client: CLIENT_PROFILE.probes.filter(keep) }
  for (const p of packages) probes[p] = ACL_PROFILES[p].probes.filter(keep)
  if (o.aclLog && packages.includes('security')) probes.security?.push(...ACL_LOG_PROBES)
  if (o.diagnostics && packages.includes('metrics')) probes.metrics?.push(...DIAGNOSTICS_PROBES)
  const commands = unique(Object.values(probes).flatMap((list) => list.map(commandOf))).sort()

  const mode = o.readOnly ? '%R~' : '~'
  const scopes = new Set(['namespace', ...packages.flatMap((p) => ACL_PROFILES[p].keys)])
  const keys: string[] = o.namespaces.map((ns) => `${mode}${escapeGlob(`${ns}:`)}*`)
  if (scopes.has('queue')) {
    // BullMQ keys are `<prefix>:<queue>:…`, or `{<prefix>:<queue>}:…` on a Cluster (one slot per queue).
    for (const q of o.queueNamespaces)
      keys.push(`${mode}${escapeGlob(`${q}:`)}*`, `${mode}${escapeGlob(`{${q}:`)}*`)
  }
  const channels = o.namespaces.map((ns) => `&${escapeGlob(`${ns}:`)}*`)
  for (const p of packages)
    for (const c of ACL_PROFILES[p].extraChannels ?? []) channels.push(`&${escapeGlob(c)}`)

  const password = o.password
    ? [`#${createHash('sha256').update(o.password, 'utf8').digest('hex')}`]
    : o.passwordHash
      ? [`#${o.passwordHash}`]
      : []
  const grants = [
    ...unique(keys),
    'resetchannels',
    ...unique(channels),
    '-@all',
    ...commands.map((c) => `+${c}`),
  ]
  const args = ['reset', 'on', ...password, ...grants]
  const rule = `ACL SETUSER ${o.user} ${args.join(' ')}`
  // The aclfile format takes the same words without `reset` (a file defines users from scratch). It has no
  // comment syntax: Redis refuses to start on any line that does not begin with `user`.
  const file = ['user default off', `user ${o.user} on ${[...password, ...grants].join(' ')}`, ''].join('\n')
  const first = o.namespaces[0] as string
  return Object.freeze({
    user: o.user,
    rules: Object.freeze([rule]),
    args: Object.freeze(args),
    file,
    commands: Object.freeze(commands),
    keys: Object.freeze(unique(keys)),
    channels: Object.freeze(unique(channels)),
    probes: Object.freeze(probes),
    samples: Object.freeze({
      key: `${first}:acl-probe`,
      queue: `${o.queueNamespaces[0] as string}:acl-probe`,
      channel: `${first}:acl-probe`,
      prefix: `${first}:`,
    }),
  })
}
