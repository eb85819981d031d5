/**
 * HTTP plumbing: JSON errors `{ error: { code, message } }`, one mapping from @cache error codes to statuses
 * (Redis unreachable -> 503 + Retry-After, limits -> 429, tokens -> 401…), and request validation with zod.
 */
import { CacheError, isCacheError } from '@cache/client'
import type { ErrorRequestHandler, Response } from 'express'
import type { z } from 'zod'

/** An error with an HTTP status and a stable code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** Parses a request body or query with `schema`, or throws a 400 E_INVALID_ARGUMENT naming the field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  throw new HttpError(
    400,
    'E_INVALID_ARGUMENT',
    `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
  )
}

const STATUS: Record<string, number> = {
  E_INVALID_ARGUMENT: 400,
  E_INVALID_PAYLOAD: 400,
  E_TOKEN_INVALID: 401,
  E_TOKEN_REUSED: 401,
  E_OTP_LOCKED: 429,
  E_OTP_THROTTLED: 429,
  E_RATE_LIMITED: 429,
  E_COST_EXCEEDS_LIMIT: 400,
  E_LOCK_NOT_ACQUIRED: 409,
  E_LOCK_LOST: 409,
  E_CIRCUIT_OPEN: 503,
  E_UNAVAILABLE: 503,
  // the job is on the master only (durability): retry, under the same id where the client keeps it
  E_NOT_REPLICATED: 503,
  E_TIMEOUT: 503,
  E_RATE_LIMIT_UNAVAILABLE: 503,
  E_FACTORY_TIMEOUT: 503,
  E_CLOSED: 503,
}

/** Default Retry-After (ms) of a 503 when the error does not say. */
const RETRY_AFTER_MS = 1_000

function describe(err: unknown): { status: number; code: string; message: string; retryAfterMs?: number } {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      ...(err.retryAfterMs ? { retryAfterMs: err.retryAfterMs } : {}),
    }
  }
  if (err instanceof CacheError || isCacheError(err)) {
    const e = err as CacheError & { retryAfterMs?: number; details?: { retryAfterMs?: number } }
    const status = STATUS[e.code] ?? 500
    const retryAfterMs =
      e.retryAfterMs ?? e.details?.retryAfterMs ?? (status === 503 ? RETRY_AFTER_MS : undefined)
    return {
      status,
      code: e.code,
      message: e.message,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    }
  }
  const status =
    (err as { status?: number; statusCode?: number })?.status ?? (err as { statusCode?: number })?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, code: 'E_INVALID_ARGUMENT', message: (err as Error).message }
  }
  return { status: 500, code: 'E_INTERNAL', message: 'internal error' }
}

/** Sends a JSON error. */
export function sendError(res: Response, err: unknown): void {
  const d = describe(err)
  if (d.retryAfterMs !== undefined)
    res.set('Retry-After', String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))))
  res.status(d.status).json({ error: { code: d.code, message: d.message } })
}

/** The last error handler: JSON errors, 5xx logged (never with request data). */
export function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return
    const d = describe(err)
    if (d.status >= 500 && d.code === 'E_INTERNAL')
      log(`error ${req.method} ${req.path}: ${(err as Error)?.stack ?? err}`)
    sendError(res, err)
  }
}
