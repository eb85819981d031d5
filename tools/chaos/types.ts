/** The data the chaos suite records and reports. Plain JSON-safe objects. */

/** The phase of a scenario a request started in. */
export type Phase = 'warm' | 'fault' | 'recovery' | 'after'

/** One HTTP request a simulated user made, as seen by the client. */
export interface RequestRecord {
  /** Simulated user index. */
  user: number
  /** Route template, e.g. `GET /api/contacts/:id`. */
  route: string
  /** Milliseconds since the scenario started. */
  start: number
  end: number
  /** HTTP status; 0 when the request failed without an answer (connection error), -1 when it hung. */
  status: number
  phase: Phase
  /** `error.code` of a JSON error answer. */
  code?: string
  /** Retry-After header, seconds. */
  retryAfter?: number
  /** `cache` of a contact read: hit, miss or stale. */
  cache?: string
  /** A contact id that was read. */
  contactId?: string
  /** The account (email) and tenant of the user. */
  account: string
  tenant: string
  /** Weight of the request for a weighted limiter (LLM maxTokens). */
  cost?: number
  /** The job id of a 202 from POST /api/jobs/welcome. */
  jobId?: string
  /** The invoice number of a 201 from POST /api/invoices. */
  invoice?: number
  /** RateLimit-Policy header, when the answer carried one. */
  policy?: string
}

/** A time interval in scenario milliseconds. */
export interface Interval {
  from: number
  to: number
}

/** One invariant's verdict for one fault. */
export interface Check {
  name: string
  ok: boolean
  /** The measured figure, e.g. `0 lost of 57`. */
  value: string
  detail?: string
}

/** What one fault scenario measured. */
export interface FaultResult {
  topology: 'standalone' | 'sentinel' | 'cluster'
  fault: string
  description: string
  /** How long the fault lasted (inject to healed), ms. */
  faultMs: number
  /** From Redis back (healed) to every probe green, ms; null when it never turned green. */
  recoveryMs: number | null
  requests: number
  /** Requests started during the fault. */
  faultRequests: number
  statuses: Record<string, number>
  latency: { p50: number; p99: number; max: number; boundMs: number }
  reads: { warm: number; answered: number; stale: number }
  errors: { total: number; typed503: number; withRetryAfter: number; untyped: number }
  jobs: { acknowledged: number; done: number; lost: number; duplicateRuns: number }
  sessions: { before: number; lost: number; false401: number }
  invoices: { created: number; overlaps: number; duplicates: number; gaps: number }
  limits: { admitted: number; overAdmissions: number; policy: string }
  checks: Check[]
}

/** The whole result file, benchmarks/results/chaos.json. */
export interface ChaosReport {
  machine: Record<string, string | number>
  load: { before: number; after: number; cores: number }
  noisy: boolean
  quick: boolean
  durationMs: number
  settings: Record<string, unknown>
  results: FaultResult[]
}
