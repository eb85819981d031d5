import { type Connection, encodeKeyPart, escapeGlob, hgetallRecord } from '@cache/client'
import { RateLimitKeys, RuleStore, type StoredRule } from '@cache/ratelimit'
import type { Command } from '../command.js'
import { intFlag, stringFlag } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { table } from '../output.js'
import { RESUME_FLAGS, ResumableScan, type ResumableScanOptions, resumeFlags, resumeUsage } from '../scan.js'

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
  /** Where to resume the scan for the per-key stats (`--cursor`) when it was stopped; null when it finished. */
  cursor: string | null
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

/** The `n` user keys denied most among the stats keys one scan visits (limiters with `analytics`). */
async function topDenied(
  conn: Connection,
  namespace: string,
  n: number,
  scan: ResumableScan,
): Promise<LimitsResult['topDenied']> {
  const prefix = conn.keys.child(namespace).prefix
  const rows: LimitsResult['topDenied'] = []
  for await (const b of scan) {
    const hashes = await Promise.all(
      b.keys.map((k) => b.node.send(['HGETALL', k]).then((r) => hgetallRecord<string>(r))),
    )
    b.keys.forEach((k, i) => {
      const part = k.slice(prefix.length + 1, -STATS_SUFFIX.length)
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

// RateLimitKeys.stats(key): `<ns>:{<key>}:` + the escaped '~stats' part.
const STATS_SUFFIX = `}:${encodeKeyPart('~stats')}`

/**
 * Everything `cache limits` and the dashboard's limits page show: live rules, decisions per rule and the
 * `top` most denied keys (a SCAN of every master for the per-key stats, throttled/resumed by `scan`).
 */
export async function readLimits(
  conn: Connection,
  namespace: string,
  top: number,
  scan: ResumableScanOptions = {},
): Promise<LimitsResult> {
  const statsKey = new RateLimitKeys(conn.keys.child(namespace)).ruleStats()
  const store = new RuleStore(conn, { namespace })
  const prefix = conn.keys.child(namespace).prefix
  const stats = new ResumableScan(conn, {
    match: `${escapeGlob(`${prefix}{`)}*${escapeGlob(STATS_SUFFIX)}`,
    count: 1000,
    rate: 0,
    ...scan,
  })
  try {
    const [rules, fields, denied] = await Promise.all([
      store.list(),
      conn.send(['HGETALL', statsKey], { key: statsKey }).then((r) => hgetallRecord<string>(r)),
      topDenied(conn, namespace, top, stats),
    ])
    return { namespace, rules, decisions: decisionsOf(fields), topDenied: denied, cursor: stats.cursor }
  } finally {
    await store.close()
  }
}

/** The header of the rules table (`cache limits`, the dashboard's limits page). */
export const RULE_COLUMNS = ['RULE', 'DEFINITION', 'ALLOWED', 'DENIED', 'DENIED %'] as const
/** The header of the most-denied-keys table. */
export const DENIED_COLUMNS = ['KEY', 'RULE', 'DENIED', 'ALLOWED'] as const

/** One row per rule (live or seen in the decisions) under RULE_COLUMNS, sorted by name. */
export function ruleRows(r: Pick<LimitsResult, 'rules' | 'decisions'>): Array<Array<string | number>> {
  const names = [...new Set([...Object.keys(r.rules), ...Object.keys(r.decisions)])].sort()
  return names.map((name) => {
    const d = r.decisions[name] ?? { allowed: 0, denied: 0 }
    const total = d.allowed + d.denied
    return [
      name,
      r.rules[name] ? JSON.stringify(r.rules[name]) : '-',
      d.allowed,
      d.denied,
      total ? `${((d.denied / total) * 100).toFixed(1)}%` : '-',
    ]
  })
}

/** One row per denied key under DENIED_COLUMNS. */
export function deniedRows(r: Pick<LimitsResult, 'topDenied'>): Array<Array<string | number>> {
  return r.topDenied.map((d) => [d.key, d.rule, d.denied, d.allowed])
}

export const limitsCommand: Command = {
  name: 'limits',
  summary: '@cache/ratelimit: live rules, allowed/denied per rule, the most denied keys',
  usage:
    'limits [--limits-namespace rl] [--top 10] [--rate N] [--cursor M:C]\n\n' +
    "  --limits-namespace  the limiters' namespace (new RateLimiter(conn, { namespace })), default rl\n" +
    '  --top               how many of the most denied keys to list (limiters with analytics: true)\n' +
    `${resumeUsage(20, 'the SCAN for the per-key stats')}\n` +
    '  (with --cursor or Ctrl-C the most denied keys are those of the part scanned)',
  flags: { ...RESUME_FLAGS, 'limits-namespace': { type: 'string' }, top: { type: 'string' } },
  async run({ conn, values, out, signal }) {
    const namespace = stringFlag(values, 'limits-namespace', 'rl')!
    const n = intFlag(values, 'top', 10, { min: 1, max: 10_000 })
    const r = await readLimits(conn, namespace, n, { ...resumeFlags(values), signal })
    out.result(r, () => {
      const rules = ruleRows(r)
      const lines = [
        rules.length === 0
          ? `no rules or decisions recorded in ${namespace}`
          : table([[...RULE_COLUMNS], ...rules]),
      ]
      if (r.topDenied.length > 0) lines.push('', table([[...DENIED_COLUMNS], ...deniedRows(r)]))
      if (r.cursor) lines.push(`stopped early: resume with --cursor ${r.cursor}`)
      return lines.join('\n')
    })
    return EXIT.OK
  },
}
