import { ACL_PACKAGES, type AclPackage, generateAcl } from '@cache/security'
import type { Command } from '../command.js'
import { stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

export const aclCommand: Command = {
  name: 'acl',
  summary: 'acl generate: least-privilege ACL rules for the packages an application uses (@cache/security)',
  usage:
    'acl generate --user NAME [--packages core,tiered,locks] [--namespace app[,other]] [--queue-namespaces queue]\n' +
    '             [--read-only] [--redis-version 7.2] [--format rules|file]\n\n' +
    `  --packages   any of ${ACL_PACKAGES.join(', ')} (default: all)\n` +
    '  --namespace  the connection namespaces the user may touch (default: REDIS_NAMESPACE or cache)\n' +
    '  --format     rules: ACL SETUSER lines (default); file: users.acl text\n' +
    '  the password comes from CACHE_ACL_PASSWORD (never a flag) and is written as its SHA-256 only.\n' +
    '  Needs no server: nothing is sent anywhere.',
  offline: true,
  flags: {
    user: { type: 'string' },
    packages: { type: 'string' },
    'queue-namespaces': { type: 'string' },
    'read-only': { type: 'boolean' },
    'redis-version': { type: 'string' },
    format: { type: 'string' },
  },
  async run({ values, positionals, out, io }) {
    if (positionals[0] !== 'generate')
      throw new UsageError('acl', `expects "generate", got ${JSON.stringify(positionals[0] ?? '')}`)
    const user = stringFlag(values, 'user')
    if (!user) throw new UsageError('--user', 'is required')
    const packages = list(stringFlag(values, 'packages'))
    for (const p of packages)
      if (!(ACL_PACKAGES as readonly string[]).includes(p))
        throw new UsageError('--packages', `"${p}" is not one of ${ACL_PACKAGES.join(', ')}`)
    const namespaces = list(stringFlag(values, 'namespace', io.env.REDIS_NAMESPACE ?? 'cache'))
    const queueNamespaces = list(stringFlag(values, 'queue-namespaces'))
    const format = stringFlag(values, 'format', 'rules')
    if (format !== 'rules' && format !== 'file')
      throw new UsageError('--format', `must be rules or file, got ${JSON.stringify(format)}`)
    const version = stringFlag(values, 'redis-version')
    const password = io.env.CACHE_ACL_PASSWORD
    const acl = generateAcl({
      user,
      namespaces,
      ...(packages.length > 0 ? { packages: packages as AclPackage[] } : {}),
      ...(queueNamespaces.length > 0 ? { queueNamespaces } : {}),
      ...(values['read-only'] === true ? { readOnly: true } : {}),
      ...(version ? { redisVersion: version } : {}),
      ...(password ? { password } : {}),
    })
    out.result(
      {
        user: acl.user,
        rules: acl.rules,
        file: acl.file,
        commands: acl.commands,
        keys: acl.keys,
        channels: acl.channels,
      },
      () => (format === 'file' ? acl.file.trimEnd() : acl.rules.join('\n')),
    )
    return EXIT.OK
  },
}
