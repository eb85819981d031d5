/**
 * Runs fault scenarios against the example service over real HTTP: a deployment of its own, the service
 * in this process (workers off), its job worker as a child process, N simulated users. For each fault:
 * warm up, inject, hold, heal, wait for all-green, keep the traffic going a little, then check.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { waitFor } from '../src/harness/wait.js'
import {
  checkCachedReads,
  checkErrors,
  checkInvoices,
  checkJobs,
  checkLatency,
  checkSessions,
  countBy,
  type OutagePolicy,
  overAdmissions,
  type PolicyRule,
  parsePolicy,
  percentile,
  recoveryTime,
} from './checkers.js'
import { type Fault, type FaultContext, faultsFor } from './faults.js'
import {
  type ChaosTopology,
  connectEnv,
  connectTarget,
  startTopology,
  type TopologyKind,
  waitReplicated,
} from './topology.js'
import type { Check, FaultResult, Phase, RequestRecord } from './types.js'
import { SimUser } from './users.js'
import { WorkerProcess } from './worker.js'

/** What the chaos suite needs of examples/service (the contract's RunningService). */
interface RunningService {
  url: string
  databaseUrl: string
  db: { query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> }
  close(): Promise<void>
}
type StartService = (opts: Record<string, unknown>) => Promise<RunningService>

export interface ChaosOptions {
  topologies: TopologyKind[]
  /** Only these faults (names from faults.ts); default every fault of each topology. */
  faults?: string[]
  /** Concurrent simulated users. @default 6 */
  users?: number
  /** Think time between two requests of one user, ms. @default 60 */
  thinkMs?: number
  /** Traffic before the fault, ms. @default 3000 */
  warmMs?: number
  /** How long a held fault lasts, ms; longer than every timeout. @default 6000 */
  holdMs?: number
  /** Traffic after all-green, ms. @default 2000 */
  afterMs?: number
  /** How long acknowledged jobs may take to be done after the scenario, ms. @default 60000 */
  jobWaitMs?: number
  /** @cache/client commandTimeout of the service, ms. @default 500 */
  commandTimeoutMs?: number
  /** @cache/client connectTimeout of the service, ms. @default 1000 */
  connectTimeoutMs?: number
  /** The most a request may take; default from the timeouts (see `latencyBound`). */
  latencyBoundMs?: number
  /** The rate limiters' outage policy, as the service configures them. @default 'local' */
  limiterPolicy?: OutagePolicy
  /**
   * Run the job workers inside the service instead of as a child process (no worker fault then).
   * @default false
   */
  inProcessWorkers?: boolean
  log?: (line: string) => void
  /** Called with the running service before the faults (to try a change of the service without editing it). */
  onService?: (service: unknown) => void
  /** Called with each fault's result as soon as it is known. */
  onResult?: (r: FaultResult) => void
}

type Resolved = Required<Omit<ChaosOptions, 'faults' | 'onResult' | 'onService' | 'latencyBoundMs'>> &
  Pick<ChaosOptions, 'faults' | 'onResult' | 'onService'> & { latencyBoundMs: number }

/**
 * The service's longest wait on Redis that is not a command round trip: the invoice mutex's `waitTimeout`
 * (examples/service/src/business.ts, 5 s; the lock TTL is 5 s too). A held fault lasts longer than it.
 */
export const SERVICE_LONGEST_WAIT_MS = 5_000

/**
 * The latency bound: the longest configured wait, plus a few Redis round trips in sequence, each bounded
 * by the command timeout until the client's breaker opens (3 failures) and fails the rest at once, plus
 * one connect timeout, plus 4 s of slack for a loaded machine (event-loop delay). With the defaults,
 * 12 s: below the service's 15 s HTTP request timeout, so a request the timeouts do not end fails it.
 */
export function latencyBound(commandTimeoutMs: number, connectTimeoutMs: number): number {
  return SERVICE_LONGEST_WAIT_MS + 4 * commandTimeoutMs + connectTimeoutMs + 4000
}

function resolve(options: ChaosOptions): Resolved {
  const commandTimeoutMs = options.commandTimeoutMs ?? 500
  const connectTimeoutMs = options.connectTimeoutMs ?? 1000
  return {
    topologies: options.topologies,
    faults: options.faults,
    users: options.users ?? 6,
    thinkMs: options.thinkMs ?? 60,
    warmMs: options.warmMs ?? 3000,
    holdMs:
      options.holdMs ?? Math.max(SERVICE_LONGEST_WAIT_MS + 1000, 3 * (commandTimeoutMs + connectTimeoutMs)),
    afterMs: options.afterMs ?? 2000,
    jobWaitMs: options.jobWaitMs ?? 60_000,
    commandTimeoutMs,
    connectTimeoutMs,
    latencyBoundMs: options.latencyBoundMs ?? latencyBound(commandTimeoutMs, connectTimeoutMs),
    limiterPolicy: options.limiterPolicy ?? 'local',
    inProcessWorkers: options.inProcessWorkers ?? false,
    log: options.log ?? (() => {}),
    onResult: options.onResult,
    onService: options.onService,
  }
}

async function loadService(): Promise<StartService> {
  const path = '../../examples/service/src/index.js'
  const mod = (await import(path)) as { startService: StartService }
  return mod.startService
}

/** Runs every selected fault on every selected topology, one after the other. */
export async function runChaos(options: ChaosOptions): Promise<FaultResult[]> {
  const o = resolve(options)
  const results: FaultResult[] = []
  for (const kind of o.topologies) {
    const faults = faultsFor(kind, o.faults).filter(
      (f) => !(o.inProcessWorkers && f.name === 'worker-sigkill'),
    )
    if (faults.length === 0) continue
    o.log(`[chaos] ${kind}: starting the deployment`)
    const topology = await startTopology(kind)
    let service: RunningService | undefined
    let worker: WorkerProcess | undefined
    // The worker's output, kept (and named in the log) only when a check of this deployment failed.
    const logDir = mkdtempSync(join(tmpdir(), 'cache-chaos-'))
    const firstResult = results.length
    try {
      const serviceFrom = Date.now()
      const startService = await loadService()
      service = await startService({
        redis: {
          ...connectTarget(topology),
          commandTimeout: o.commandTimeoutMs,
          connectTimeout: o.connectTimeoutMs,
        },
        port: 0,
        workers: o.inProcessWorkers,
        devCodes: true,
        otpResendInterval: 0,
        // The API-wide limits are raised so that the traffic is mostly answered; the LLM limits are
        // lowered so that a scenario of seconds reaches them (denials, and over-admissions if any).
        limits: { userRequests: 100_000, tenantRequests: 1_000_000, llmRequests: 3, llmTokens: 500 },
        log: (line: string) => o.log(`[service] ${line}`),
      })
      o.onService?.(service)
      o.log(`[chaos] ${kind}: service started in ${Date.now() - serviceFrom} ms`)
      worker = new WorkerProcess(
        { ...connectEnv(topology), DATABASE_URL: service.databaseUrl },
        join(logDir, `worker-${kind}.log`),
      )
      const workerFrom = Date.now()
      if (!o.inProcessWorkers) await worker.start()
      o.log(`[chaos] ${kind}: worker started in ${Date.now() - workerFrom} ms`)
      o.log(`[chaos] ${kind}: service at ${service.url}`)
      for (const fault of faults) {
        o.log(`[chaos] ${kind}: ${fault.name}`)
        const result = await runScenario(o, topology, service, worker, fault)
        results.push(result)
        o.onResult?.(result)
        o.log(
          `[chaos] ${kind}/${fault.name}: ${result.checks.every((c) => c.ok) ? 'ok' : 'FAILED'} — ${result.checks.map((c) => `${c.name}: ${c.value}`).join('; ')}`,
        )
      }
    } finally {
      await worker?.stop()
      await service?.close()
      await topology.topology.stop()
      const failed = results.slice(firstResult).some((r) => r.checks.some((c) => !c.ok))
      if (failed) o.log(`[chaos] ${kind}: worker output kept in ${logDir}`)
      else rmSync(logDir, { recursive: true, force: true })
    }
  }
  return results
}

async function runScenario(
  o: Resolved,
  topology: ChaosTopology,
  service: RunningService,
  worker: WorkerProcess,
  fault: Fault,
): Promise<FaultResult> {
  const t0 = Date.now()
  const clock = () => Date.now() - t0
  let phase: Phase = 'warm'
  const records: RequestRecord[] = []
  const userOptions = {
    baseUrl: service.url,
    clock,
    phase: () => phase,
    hangMs: Math.max(30_000, 3 * o.latencyBoundMs),
    thinkMs: o.thinkMs,
    record: (r: RequestRecord) => records.push(r),
  }
  const users = Array.from({ length: o.users }, (_, i) => new SimUser(i, userOptions))
  await Promise.all(
    users.map((u) =>
      waitFor(`user ${u.index} logged in`, () => u.login(), { timeoutMs: 30_000, intervalMs: 200 }),
    ),
  )
  const loops = users.map((u) => u.run())
  // A probe apart from the users: green when /healthz says Redis is up and a Redis-backed route answers.
  const probe = new SimUser(o.users, { ...userOptions, record: () => {} })
  await waitFor('probe logged in', () => probe.login(), { timeoutMs: 30_000, intervalMs: 200 })
  const probes: Array<{ at: number; green: boolean }> = []
  let probing = true
  const probeLoop = (async () => {
    while (probing) {
      const at = clock()
      const health = await probe.call('GET /healthz', 'GET', '/healthz')
      const me = await probe.call('GET /api/me', 'GET', '/api/me')
      probes.push({
        at,
        green:
          health.status === 200 && health.body?.redis === 'up' && (me.status === 200 || me.status === 429),
      })
      await sleep(100)
    }
  })()

  await sleep(o.warmMs)
  await waitReplicated(topology).catch((err) => o.log(`[chaos] replication wait: ${err}`))
  const before = users.filter((u) => u.cookie).map((u) => u.cookie!)
  phase = 'fault'
  const ctx: FaultContext = { topology, worker, holdMs: o.holdMs, log: o.log }
  const faultFrom = clock()
  await fault.inject(ctx)
  await fault.heal(ctx)
  const healedAt = clock()
  phase = 'recovery'
  let recoveryMs: number | null = null
  if (fault.redis) {
    await waitFor(
      'all green after the fault',
      () => {
        const last = probes.filter((p) => p.at >= healedAt).slice(-3)
        return last.length === 3 && last.every((p) => p.green)
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch(() => undefined)
    recoveryMs = recoveryTime(probes, healedAt)
  } else {
    // The worker fault: recovery is the time until a job enqueued at heal time is done.
    const job = await probe.call('POST /api/jobs/welcome', 'POST', '/api/jobs/welcome', {
      email: 'probe@chaos.test',
    })
    const id = job.body?.jobId
    if (id) {
      const done = await waitFor(
        'probe job done',
        async () =>
          (await service.db.query('select 1 from jobs_done where job_id = $1', [id])).rows.length > 0,
        { timeoutMs: 60_000, intervalMs: 100 },
      ).catch(() => false)
      if (done) recoveryMs = clock() - healedAt
    }
  }
  phase = 'after'
  await sleep(o.afterMs)
  for (const u of users) u.stop()
  probing = false
  await Promise.all([...loops, probeLoop])

  const sessionsValid = (await Promise.all(before.map((cookie) => probe.sessionValid(cookie)))).filter(
    Boolean,
  ).length
  const faultWindow = { from: faultFrom, to: healedAt }
  return {
    topology: topology.kind,
    fault: fault.name,
    description: fault.description,
    faultMs: healedAt - faultFrom,
    recoveryMs,
    requests: records.length,
    faultRequests: records.filter((r) => r.phase === 'fault').length,
    statuses: countBy(records, (r) => String(r.status)),
    ...(await check(
      o,
      service,
      probe,
      records,
      faultWindow,
      fault,
      before.length,
      sessionsValid,
      recoveryMs,
    )),
  }
}

async function check(
  o: Resolved,
  service: RunningService,
  probe: SimUser,
  records: RequestRecord[],
  faultWindow: { from: number; to: number },
  fault: Fault,
  sessionsBefore: number,
  sessionsValid: number,
  recoveryMs: number | null,
): Promise<
  Pick<FaultResult, 'latency' | 'reads' | 'errors' | 'jobs' | 'sessions' | 'invoices' | 'limits' | 'checks'>
> {
  const latency = checkLatency(records, o.latencyBoundMs)
  const reads = checkCachedReads(records, faultWindow)
  const errors = checkErrors(records)

  const acked = [...new Set(records.filter((r) => r.jobId).map((r) => r.jobId!))]
  const done = new Set<string>()
  await waitFor(
    'acknowledged jobs done',
    async () => {
      const { rows } = await service.db.query<{ job_id: string }>(
        'select job_id from jobs_done where job_id = any($1)',
        [acked],
      )
      for (const r of rows) done.add(r.job_id)
      return done.size >= acked.length
    },
    { timeoutMs: o.jobWaitMs, intervalMs: 250 },
  ).catch(() => undefined)
  const { rows: runRows } = await service.db.query<{
    job_id: string
    n: number
    retries: number
    spread: number
  }>(
    `select job_id, count(*)::int as n, count(*) filter (where attempt > 1)::int as retries,
       (extract(epoch from max(at) - min(at)) * 1000)::int as spread
     from job_runs where job_id = any($1) group by job_id`,
    [acked],
  )
  const jobs = checkJobs(acked, done, new Map(runRows.map((r) => [r.job_id, Number(r.n)])))
  // What became of a lost job: its state in Redis (404: the queue no longer has it at all).
  const lostStates = await Promise.all(
    acked
      .filter((id) => !done.has(id))
      .slice(0, 5)
      .map(async (id) => {
        const a = await probe.call('GET /api/jobs/:id', 'GET', `/api/jobs/${encodeURIComponent(id)}`)
        return `${id}: ${a.status === 200 ? `${a.body?.state}, ${a.body?.runs} runs` : `HTTP ${a.status}`}`
      }),
  )
  if (lostStates.length) jobs.check.detail = `lost: ${lostStates.join(', ')}`
  // Why jobs ran more than once: a retry (attempt > 1: the run failed, e.g. its completion write hit a
  // demoted master) or a re-run of the same attempt (the stalled-job check took it from a dead worker).
  const retries = runRows.reduce((s, r) => s + Number(r.retries), 0)
  if (jobs.duplicateRuns > 0)
    jobs.check.detail = [
      jobs.check.detail,
      `duplicates: ${retries} retries (attempt > 1), ${jobs.duplicateRuns - retries} re-runs of one attempt, first to last run p50 ${percentile(
        runRows.filter((r) => Number(r.n) > 1).map((r) => Number(r.spread)),
        50,
      )} ms`,
    ]
      .filter(Boolean)
      .join('; ')

  const sessions = checkSessions(sessionsBefore, sessionsValid, records)

  const { rows: invoiceRows } = await service.db.query<{
    tenant: string
    number: number
    fencing_token: string
  }>('select tenant, number, fencing_token from invoices')
  const invoices = checkInvoices(
    invoiceRows.map((r) => ({
      tenant: r.tenant,
      number: Number(r.number),
      fencingToken: Number(r.fencing_token),
    })),
    records.filter((r) => r.invoice !== undefined).map((r) => ({ tenant: r.tenant, number: r.invoice! })),
  )

  const limits = checkLimits(records, fault.redis ? [faultWindow] : [], o.limiterPolicy)

  const recovery: Check = {
    name: 'recovers to all-green',
    ok: recoveryMs !== null,
    value: recoveryMs === null ? 'never' : `${recoveryMs} ms`,
  }
  return {
    latency: { p50: latency.p50, p99: latency.p99, max: latency.max, boundMs: latency.boundMs },
    reads: { warm: reads.warm, answered: reads.answered, stale: reads.stale },
    errors: {
      total: errors.total,
      typed503: errors.typed503,
      withRetryAfter: errors.withRetryAfter,
      untyped: errors.untyped,
    },
    jobs: {
      acknowledged: jobs.acknowledged,
      done: jobs.done,
      lost: jobs.lost,
      duplicateRuns: jobs.duplicateRuns,
    },
    sessions: { before: sessions.before, lost: sessions.lost, false401: sessions.false401 },
    invoices: {
      created: invoices.created,
      overlaps: invoices.overlaps,
      duplicates: invoices.duplicates,
      gaps: invoices.gaps,
    },
    limits: { admitted: limits.admitted, overAdmissions: limits.over, policy: o.limiterPolicy },
    checks: [
      latency.check,
      reads.check,
      errors.check,
      jobs.check,
      sessions.check,
      invoices.check,
      limits.check,
      recovery,
    ],
  }
}

/**
 * Over-admissions of the LLM route's limiters (examples/service/src/business.ts), with the rules from the
 * RateLimit-Policy headers: `llm-requests` per user (a request passed it unless its 429 names it: the
 * token budget is asked after it), `llm-tpm` / `llm-tpd` per tenant weighted by maxTokens (all-or-nothing:
 * a 200 passed both). The API-wide `user` / `tenant` rules are raised out of reach by the suite.
 */
function checkLimits(
  records: RequestRecord[],
  outages: Array<{ from: number; to: number }>,
  policy: OutagePolicy,
): { admitted: number; over: number; check: Check } {
  const llm = records.filter((r) => r.route === 'POST /api/llm/complete')
  const rules = new Map<string, PolicyRule>()
  for (const r of llm) for (const rule of r.policy ? parsePolicy(r.policy) : []) rules.set(rule.name, rule)
  const ok200 = llm.filter((r) => r.status === 200)
  let over = 0
  const counted: string[] = []
  for (const rule of rules.values()) {
    if (!rule.name.startsWith('llm')) continue
    const perUser = rule.name === 'llm-requests'
    const passed = perUser
      ? llm.filter((r) => r.status === 200 || (r.status === 429 && !r.policy?.includes('"llm-requests"')))
      : ok200
    const groups = new Map<string, Array<{ start: number; end: number; cost: number }>>()
    for (const r of passed) {
      const key = perUser ? r.account : r.tenant
      const list = groups.get(key) ?? []
      list.push({ start: r.start, end: r.end, cost: perUser ? 1 : (r.cost ?? 1) })
      groups.set(key, list)
    }
    for (const list of groups.values()) over += overAdmissions(list, rule, outages, policy)
    counted.push(`${rule.name} ${rule.limit}/${rule.windowMs / 1000}s`)
  }
  return {
    admitted: ok200.length,
    over,
    check: {
      name: `0 over-admissions (outage policy ${policy})`,
      ok: over === 0 && (ok200.length === 0 || counted.length > 0),
      value: `${over} over ${counted.join(', ') || 'no RateLimit-Policy seen'}`,
    },
  }
}
