/**
 * Invariant checkers: pure functions over what the simulated users recorded and what the database holds.
 * Each returns figures (reported) and an `ok` verdict (asserted by the test and marked in the report).
 */
import type { Check, Interval, RequestRecord } from './types.js'

/** The p-th percentile (0..100) of `values`, 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[at]!
}

const latencyOf = (r: RequestRecord) => r.end - r.start

/** Latency figures of `records` and whether none exceeded `boundMs` (a hang shows as status -1). */
export function checkLatency(
  records: RequestRecord[],
  boundMs: number,
): { p50: number; p99: number; max: number; boundMs: number; check: Check } {
  const values = records.map(latencyOf)
  const max = values.length ? Math.max(...values) : 0
  const hung = records.filter((r) => r.status === -1).length
  const over = records.filter((r) => latencyOf(r) > boundMs)
  const worst = over.sort((a, b) => latencyOf(b) - latencyOf(a))[0]
  const slowest = [...records].sort((a, b) => latencyOf(b) - latencyOf(a))[0]
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max,
    boundMs,
    check: {
      name: 'no hang (max latency within the timeouts)',
      ok: over.length === 0 && hung === 0,
      value: `max ${max} ms${slowest ? ` (${slowest.route})` : ''}, bound ${boundMs} ms`,
      detail: worst
        ? `${over.length} over the bound, worst ${worst.route} ${latencyOf(worst)} ms`
        : undefined,
    },
  }
}

/**
 * Reads of contacts that had answered before the fault ("warm") must keep answering 200 during it:
 * from L1 or from grace. Reads of contacts never read before are not counted (nothing can serve them).
 */
export function checkCachedReads(
  records: RequestRecord[],
  fault: Interval,
): { warm: number; answered: number; stale: number; check: Check } {
  // Warm: the contact's last successful call before the fault was a read (a PATCH after it invalidates).
  const last = new Map<string, RequestRecord>()
  for (const r of records
    .filter((x) => x.contactId && x.status === 200 && x.end < fault.from)
    .sort((a, b) => a.end - b.end))
    last.set(`${r.tenant}/${r.contactId}`, r)
  const warmIds = new Set([...last].filter(([, r]) => r.route.startsWith('GET')).map(([id]) => id))
  const during = records.filter(
    (r) =>
      r.route === 'GET /api/contacts/:id' &&
      r.start >= fault.from &&
      r.start <= fault.to &&
      warmIds.has(`${r.tenant}/${r.contactId}`) &&
      r.status !== 429 &&
      r.status !== 401,
  )
  const answered = during.filter((r) => r.status === 200)
  const failed = during.filter((r) => r.status !== 200)
  return {
    warm: during.length,
    answered: answered.length,
    stale: answered.filter((r) => r.cache === 'stale').length,
    check: {
      name: 'cached contact reads answer during the fault',
      ok: failed.length === 0,
      value: `${answered.length}/${during.length} answered`,
      detail: failed.length
        ? `statuses ${JSON.stringify(countBy(failed, (r) => String(r.status)))}`
        : undefined,
    },
  }
}

/** Counts of `items` per key. */
export function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of items) {
    const k = key(item)
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}

/**
 * Every failed answer is a fast, typed 503 with Retry-After: a JSON `error.code`, the header, and no 500,
 * no connection error, no hang. 401 (no session), 404 and 429 (limited) are answers, not failures.
 */
export function checkErrors(records: RequestRecord[]): {
  total: number
  typed503: number
  withRetryAfter: number
  untyped: number
  check: Check
} {
  const failures = records.filter((r) => r.status >= 500 || r.status <= 0)
  const typed503 = failures.filter((r) => r.status === 503 && r.code?.startsWith('E_'))
  const withRetryAfter = typed503.filter((r) => r.retryAfter !== undefined && r.retryAfter >= 0)
  const untyped = failures.length - withRetryAfter.length
  const bad = failures.filter(
    (r) => !(r.status === 503 && r.code?.startsWith('E_') && r.retryAfter !== undefined),
  )
  return {
    total: failures.length,
    typed503: typed503.length,
    withRetryAfter: withRetryAfter.length,
    untyped,
    check: {
      name: 'errors are typed 503 with Retry-After',
      ok: untyped === 0,
      value: `${withRetryAfter.length}/${failures.length} typed 503 + Retry-After`,
      detail: bad.length
        ? `others: ${JSON.stringify(countBy(bad, (r) => `${r.route} ${r.status} ${r.code ?? ''}`.trim()))}`
        : undefined,
    },
  }
}

/** Every acknowledged job (a 202 with a jobId) reached `jobs_done`; runs beyond one per job are counted. */
export function checkJobs(
  acknowledged: string[],
  done: Set<string>,
  runsPerJob: Map<string, number>,
): { acknowledged: number; done: number; lost: number; duplicateRuns: number; check: Check } {
  const lost = acknowledged.filter((id) => !done.has(id))
  let duplicateRuns = 0
  for (const id of acknowledged) duplicateRuns += Math.max(0, (runsPerJob.get(id) ?? 0) - 1)
  return {
    acknowledged: acknowledged.length,
    done: acknowledged.length - lost.length,
    lost: lost.length,
    duplicateRuns,
    check: {
      name: '0 acknowledged jobs lost',
      ok: lost.length === 0,
      value: `${lost.length} lost of ${acknowledged.length}, ${duplicateRuns} duplicate runs`,
      detail: lost.length ? `lost: ${lost.slice(0, 5).join(', ')}` : undefined,
    },
  }
}

/**
 * Sessions created before the fault that no longer authenticate after recovery, and 401s answered on the
 * way (every simulated user keeps a valid session: a 401 means an outage was reported as "logged out").
 */
export function checkSessions(
  before: number,
  stillValid: number,
  records: RequestRecord[] = [],
): { before: number; lost: number; false401: number; check: Check } {
  const lost = before - stillValid
  // Logins are left out: two users of one account asking for codes at once invalidate each other's code.
  const false401 = records.filter((r) => r.status === 401 && !r.route.startsWith('POST /api/auth/'))
  return {
    before,
    lost,
    false401: false401.length,
    check: {
      name: '0 sessions lost',
      ok: lost === 0 && false401.length === 0,
      value: `${lost} lost of ${before}, ${false401.length} false 401`,
      detail: false401.length
        ? `401 on ${JSON.stringify(countBy(false401, (r) => `${r.phase} ${r.route} ${r.code ?? ''}`.trim()))}`
        : undefined,
    },
  }
}

/**
 * Invoices as the database holds them, per tenant (one counter and one mutex each): fencing tokens strictly
 * increasing with the invoice number (a lower token after a higher one means two holders overlapped),
 * numbers unique, gaps counted (not a failure: a holder that lost its lease after taking a number leaves
 * one). Every 201 the users saw must be in the DB.
 */
export function checkInvoices(
  rows: Array<{ tenant: string; number: number; fencingToken: number }>,
  acknowledged: Array<{ tenant: string; number: number }>,
): { created: number; overlaps: number; duplicates: number; gaps: number; check: Check } {
  let overlaps = 0
  let duplicates = 0
  let gaps = 0
  for (const tenant of new Set(rows.map((r) => r.tenant))) {
    const sorted = rows.filter((r) => r.tenant === tenant).sort((a, b) => a.number - b.number)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!
      const cur = sorted[i]!
      if (cur.number === prev.number) duplicates++
      else if (cur.number > prev.number + 1) gaps += cur.number - prev.number - 1
      if (cur.fencingToken <= prev.fencingToken) overlaps++
    }
  }
  const numbers = new Set(rows.map((r) => `${r.tenant}/${r.number}`))
  const missing = acknowledged.filter((a) => !numbers.has(`${a.tenant}/${a.number}`))
  return {
    created: rows.length,
    overlaps,
    duplicates,
    gaps,
    check: {
      name: '0 lock overlaps (fencing tokens strictly increasing)',
      ok: overlaps === 0 && duplicates === 0 && missing.length === 0,
      value: `${overlaps} overlaps, ${duplicates} duplicate numbers, ${gaps} gaps in ${rows.length}`,
      detail: missing.length ? `${missing.length} acknowledged invoices missing from the DB` : undefined,
    },
  }
}

/** A limiter rule as the RateLimit-Policy header states it. */
export interface PolicyRule {
  name: string
  limit: number
  windowMs: number
}

/** Parses an IETF `RateLimit-Policy` header: `"name";q=100;w=60, "other";q=10;w=1`. */
export function parsePolicy(header: string): PolicyRule[] {
  const rules: PolicyRule[] = []
  for (const part of header.split(',')) {
    const name = /^\s*"?([^";]+)"?/.exec(part)?.[1]
    const q = /;\s*q=(\d+)/.exec(part)?.[1]
    const w = /;\s*w=(\d+)/.exec(part)?.[1]
    if (name && q && w) rules.push({ name: name.trim(), limit: Number(q), windowMs: Number(w) * 1000 })
  }
  return rules
}

/** How a limiter behaves while Redis is unreachable (packages/ratelimit docs, "When Redis is down"). */
export type OutagePolicy = 'local' | 'fail-open' | 'fail-closed'

/**
 * The most admissions of one key beyond what the rule and its outage policy allow, over every interval.
 *
 * Without an outage, any interval of length T admits at most `2 × limit + limit × T / window` units: the
 * rate plus one full window of burst either side (a fixed window's boundary, a bucket's capacity). The
 * policy adds, for each outage the interval touches: `local` one more such allowance per process (the
 * in-memory state starts empty and is dropped on recovery), `fail-open` is unbounded during the outage
 * (its admissions are not counted), `fail-closed` admits nothing (any admission during it is over).
 * Admission times are client-side; the server decided somewhere in [start, end], so the shortest possible
 * interval between two admissions is taken.
 */
export function overAdmissions(
  admissions: Array<{ start: number; end: number; cost: number }>,
  rule: PolicyRule,
  outages: Interval[],
  policy: OutagePolicy,
  processes = 1,
): number {
  const during = (a: { start: number; end: number }) =>
    outages.some((o) => a.end >= o.from && a.start <= o.to)
  let over = 0
  const counted = [...admissions].filter((a) => !(policy === 'fail-open' && during(a)))
  if (policy === 'fail-closed') over += counted.filter(during).reduce((s, a) => s + a.cost, 0)
  const list = counted.filter((a) => !(policy === 'fail-closed' && during(a))).sort((a, b) => a.end - b.end)
  const rate = rule.limit / rule.windowMs
  let worst = 0
  for (let i = 0; i < list.length; i++) {
    let sum = 0
    for (let j = i; j < list.length; j++) {
      sum += list[j]!.cost
      const span = Math.max(0, list[j]!.start - list[i]!.end)
      const touched =
        policy === 'local'
          ? outages.filter((o) => o.to >= list[i]!.start && o.from <= list[j]!.end).length
          : 0
      const bound = 2 * rule.limit * (1 + touched * processes) + rate * span
      worst = Math.max(worst, sum - bound)
    }
  }
  return over + Math.floor(worst)
}

/**
 * Recovery time: from `healedAt` to the first probe after which every probe was green, or null when the
 * last probe was not green.
 */
export function recoveryTime(probes: Array<{ at: number; green: boolean }>, healedAt: number): number | null {
  const after = probes.filter((p) => p.at >= healedAt).sort((a, b) => a.at - b.at)
  if (after.length === 0 || !after[after.length - 1]!.green) return null
  let firstGreen = after.length - 1
  while (firstGreen > 0 && after[firstGreen - 1]!.green) firstGreen--
  return Math.max(0, after[firstGreen]!.at - healedAt)
}
