import { type Connection, encodeKeyPart, escapeGlob, hgetallRecord } from '@cache/client'
import { RateLimitKeys, RuleStore, type StoredRule } from '@cache/ratelimit'
import type { Command } from '../command.js'
import { intFlag, stringFlag } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { table } from '../output.js'
import { scanEveryMaster } from '../scan.js'

/** Allowed and denied decisions. */
export interface Decisions {
  allowed: number
  denied: number
}

/** The result of `cache limits`. */
export interface LimitsResult {
  namespace: string
  /** Live rules (RuleStore), by name. */
  rules: Record<string, StoredRule>
  /** Allowed/denied per rule, summed over every process (limiters with `analytics`). */
  decisions: Record<string, Decisions>
  /** The user keys denied most (as stored: hashed when the application hashes them). */
  topDenied: { key: string; rule: string; denied: number; allowed: number }[]
}

/** Allowed/denied per rule from a decisions hash (fields `<rule>:a`, `<rule>:d`). */
export function decisionsOf(fields: Record<string, string>): Record<string, Decisions> {
  const out: Record<string, Decisions> = {}
  for (const [field, value] of Object.entries(fields)) {
    const m = /^(.*):([ad])$/.exec(field)
    if (!m) continue
    const c = out[m[1]!] ?? { allowed: 0, denied: 0 }
    out[m[1]!] = c
    if (m[2] === 'a') c.allowed = Number(value)
    else c.denied = Number(value)
  }
  return out
}

/** The `n` user keys denied most in the limiters' namespace (limiters with `analytics`), every master. */
export async function topDenied(
  conn: Connection,
  namespace: string,
  n: number,
): Promise<LimitsResult['topDenied']> {
  const prefix = conn.keys.child(namespace).prefix
  const rows: LimitsResult['topDenied'] = []
  // RateLimitKeys.stats(key): `<ns>:{<key>}:` + the escaped '~stats' part.
  const suffix = `}:${encodeKeyPart('~stats')}`
  for await (const b of scanEveryMaster(conn, {
    match: `${escapeGlob(`${prefix}{`)}*${escapeGlob(suffix)}`,
    count: 1000,
    rate: 0,
  })) {
    const hashes = await Promise.all(
      b.keys.map((k) => b.node.send(['HGETALL', k]).then((r) => hgetallRecord<string>(r))),
    )
    b.keys.forEach((k, i) => {
      const part = k.slice(prefix.length + 1, -suffix.length)
      let key = part
      try {
        key = decodeURIComponent(part)
      } catch {}
      for (const [rule, d] of Object.entries(decisionsOf(hashes[i]!)))
        if (d.denied > 0) rows.push({ key, rule, ...d })
    })
  }
  return rows.sort((a, b) => b.denied - a.denied).slice(0, n)
}

export const limitsCommand: Command = {
  name: 'limits',
  summary: '@cache/ratelimit: live rules, allowed/denied per rule, the most denied keys',
  usage:
    'limits [--limits-namespace rl] [--top 10]\n\n' +
    "  --limits-namespace  the limiters' namespace (new RateLimiter(conn, { namespace })), default rl\n" +
    '  --top               how many of the most denied keys to list (limiters with analytics: true)',
  flags: { 'limits-namespace': { type: 'string' }, top: { type: 'string' } },
  async run({ conn, values, out }) {
    const namespace = stringFlag(values, 'limits-namespace', 'rl')!
    const n = intFlag(values, 'top', 10, { min: 1, max: 10_000 })
    const keys = new RateLimitKeys(conn.keys.child(namespace))
    const store = new RuleStore(conn, { namespace })
    try {
      const statsKey = keys.ruleStats()
      const [rules, stats, denied] = await Promise.all([
        store.list(),
        conn.send(['HGETALL', statsKey], { key: statsKey }).then((r) => hgetallRecord<string>(r)),
        topDenied(conn, namespace, n),
      ])
      const r: LimitsResult = { namespace, rules, decisions: decisionsOf(stats), topDenied: denied }
      out.result(r, () => {
        const names = [...new Set([...Object.keys(rules), ...Object.keys(r.decisions)])].sort()
        const lines = [
          names.length === 0
            ? `no rules or decisions recorded in ${namespace}`
            : table([
                ['RULE', 'DEFINITION', 'ALLOWED', 'DENIED', 'DENIED %'],
                ...names.map((name) => {
                  const d = r.decisions[name] ?? { allowed: 0, denied: 0 }
                  const total = d.allowed + d.denied
                  return [
                    name,
                    rules[name] ? JSON.stringify(rules[name]) : '-',
                    d.allowed,
                    d.denied,
                    total ? `${((d.denied / total) * 100).toFixed(1)}%` : '-',
                  ]
                }),
              ]),
        ]
        if (denied.length > 0)
          lines.push(
            '',
            table([
              ['KEY', 'RULE', 'DENIED', 'ALLOWED'],
              ...denied.map((d) => [d.key, d.rule, d.denied, d.allowed]),
            ]),
          )
        return lines.join('\n')
      })
      return EXIT.OK
    } finally {
      await store.close()
    }
  },
}
