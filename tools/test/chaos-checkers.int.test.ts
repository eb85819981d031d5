// The chaos suite's invariant checkers on hand-made records: each one flags the fault it exists for.
import { describe, expect, it } from 'vitest'
import {
  checkCachedReads,
  checkErrors,
  checkInvoices,
  checkJobs,
  checkLatency,
  checkSessions,
  overAdmissions,
  parsePolicy,
  percentile,
  recoveryTime,
} from '../chaos/checkers.js'
import type { RequestRecord } from '../chaos/types.js'

const rec = (r: Partial<RequestRecord>): RequestRecord => ({
  user: 0,
  route: 'GET /api/me',
  start: 0,
  end: 10,
  status: 200,
  phase: 'warm',
  account: 'alice@t1.test',
  tenant: 't1',
  ...r,
})

describe('chaos checkers', () => {
  it('latency: a request over the bound or a hang fails the check', () => {
    expect(checkLatency([rec({ end: 100 }), rec({ end: 900 })], 1000).check.ok).toBe(true)
    expect(checkLatency([rec({ end: 1500 })], 1000).check.ok).toBe(false)
    expect(checkLatency([rec({ end: 10, status: -1 })], 1000).check.ok).toBe(false)
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3)
    expect(percentile([], 99)).toBe(0)
  })

  it('cached reads: only contacts read before the fault (and not patched since) count', () => {
    const fault = { from: 100, to: 200 }
    const warm = rec({ route: 'GET /api/contacts/:id', contactId: 'c1', start: 0, end: 10 })
    const patched = rec({ route: 'PATCH /api/contacts/:id', contactId: 'c2', start: 20, end: 30 })
    const readC2 = rec({ route: 'GET /api/contacts/:id', contactId: 'c2', start: 0, end: 5 })
    const during = (id: string, status: number) =>
      rec({ route: 'GET /api/contacts/:id', contactId: id, start: 150, end: 160, status, phase: 'fault' })
    const ok = checkCachedReads([warm, readC2, patched, during('c1', 200), during('c2', 503)], fault)
    expect(ok).toMatchObject({ warm: 1, answered: 1 })
    expect(ok.check.ok).toBe(true)
    expect(checkCachedReads([warm, during('c1', 503)], fault).check.ok).toBe(false)
  })

  it('errors: a 500, a connection error or a 503 without code or Retry-After is untyped', () => {
    const typed = rec({ status: 503, code: 'E_UNAVAILABLE', retryAfter: 1 })
    expect(checkErrors([typed, rec({ status: 429 }), rec({ status: 401 })]).check.ok).toBe(true)
    expect(checkErrors([typed, rec({ status: 500, code: 'E_INTERNAL' })]).untyped).toBe(1)
    expect(checkErrors([rec({ status: 503, code: 'E_UNAVAILABLE' })]).check.ok).toBe(false)
    expect(checkErrors([rec({ status: 0 })]).check.ok).toBe(false)
  })

  it('jobs: a lost acknowledged job fails, extra runs are counted', () => {
    const runs = new Map([
      ['a', 2],
      ['b', 1],
    ])
    expect(checkJobs(['a', 'b'], new Set(['a', 'b']), runs)).toMatchObject({ lost: 0, duplicateRuns: 1 })
    expect(checkJobs(['a', 'b', 'c'], new Set(['a', 'b']), runs).check.ok).toBe(false)
  })

  it('sessions: a lost session or a 401 outside the login routes fails', () => {
    expect(checkSessions(4, 4, [rec({ route: 'POST /api/auth/login', status: 401 })]).check.ok).toBe(true)
    expect(checkSessions(4, 3).check.ok).toBe(false)
    expect(checkSessions(4, 4, [rec({ status: 401, phase: 'fault' })])).toMatchObject({ false401: 1 })
  })

  it('invoices: a fencing token going down is an overlap; gaps are counted per tenant', () => {
    const rows = [
      { tenant: 't1', number: 1, fencingToken: 5 },
      { tenant: 't1', number: 3, fencingToken: 9 },
      { tenant: 't2', number: 1, fencingToken: 1 },
    ]
    expect(checkInvoices(rows, [{ tenant: 't1', number: 3 }])).toMatchObject({ overlaps: 0, gaps: 1 })
    const overlapping = [...rows, { tenant: 't1', number: 4, fencingToken: 7 }]
    expect(checkInvoices(overlapping, []).overlaps).toBe(1)
    expect(checkInvoices(rows, [{ tenant: 't2', number: 2 }]).check.ok).toBe(false)
  })

  it('limits: parses RateLimit-Policy; admissions beyond the rule (and outage allowance) are counted', () => {
    expect(parsePolicy('"llm-user";q=60;w=60, "llm-tokens";q=20000;w=60')).toEqual([
      { name: 'llm-user', limit: 60, windowMs: 60_000 },
      { name: 'llm-tokens', limit: 20_000, windowMs: 60_000 },
    ])
    const rule = { name: 'r', limit: 10, windowMs: 60_000 }
    const burst = (n: number, at: number) =>
      Array.from({ length: n }, () => ({ start: at, end: at + 1, cost: 1 }))
    expect(overAdmissions(burst(20, 0), rule, [], 'local')).toBe(0)
    expect(overAdmissions(burst(25, 0), rule, [], 'local')).toBe(5)
    // An outage adds one in-memory allowance per process under `local`, nothing under `fail-closed`.
    const outage = [{ from: 0, to: 100 }]
    expect(overAdmissions(burst(40, 50), rule, outage, 'local')).toBe(0)
    expect(overAdmissions(burst(3, 50), rule, outage, 'fail-closed')).toBe(3)
    expect(overAdmissions(burst(100, 50), rule, outage, 'fail-open')).toBe(0)
  })

  it('recovery: from heal to the first probe of the final green run', () => {
    const probes = [
      { at: 0, green: true },
      { at: 100, green: false },
      { at: 200, green: true },
      { at: 300, green: false },
      { at: 400, green: true },
      { at: 500, green: true },
    ]
    expect(recoveryTime(probes, 150)).toBe(250)
    expect(recoveryTime([...probes, { at: 600, green: false }], 150)).toBeNull()
  })
})
