import type { z } from 'zod'
import { ENVELOPE_VERSION } from './defaults.js'
import { InvalidPayloadError } from './errors.js'
import type { RawEntry } from './replies.js'

/**
 * The pub/sub wire format: one JSON object per message, so any language can publish and subscribe.
 * `v` is the format version (1), `data` the payload, `src` the publishing PubSub's id (optional).
 * @example {"v":1,"src":"web-1:4242:9f2c","data":{"key":"user:42"}}
 */
export interface Envelope {
  v: number
  data: unknown
  src?: string
}

/** JSON text of a payload. @throws InvalidPayloadError when it is not JSON-serialisable. */
export function encodeJson(target: string, data: unknown): string {
  let body: string | undefined
  try {
    body = JSON.stringify(data)
  } catch (err) {
    throw new InvalidPayloadError(target, ['not JSON-serialisable'], err)
  }
  if (body === undefined) throw new InvalidPayloadError(target, ['not JSON-serialisable (undefined)'])
  return body
}

/** The envelope's text before the payload, for a source (or none): a bus computes it once, not per message. */
export function envelopeHead(src?: string): string {
  return src === undefined
    ? `{"v":${ENVELOPE_VERSION},"data":`
    : `{"v":${ENVELOPE_VERSION},"src":${JSON.stringify(src)},"data":`
}

/**
 * Encodes a payload into the pub/sub envelope (`head`: `envelopeHead(src)`, when the caller has it).
 * @throws InvalidPayloadError when it is not JSON-serialisable.
 */
export function encodeEnvelope(
  target: string,
  data: unknown,
  src?: string,
  head = envelopeHead(src),
): string {
  return `${head}${encodeJson(target, data)}}`
}

/** Decodes a pub/sub envelope, or returns the reason it is not one. */
export function decodeEnvelope(raw: string): Envelope | string {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return 'not JSON'
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not an envelope object'
  const env = parsed as Record<string, unknown>
  if (env.v !== ENVELOPE_VERSION) return `unknown envelope version ${JSON.stringify(env.v)}`
  if (!('data' in env)) return 'envelope has no "data"'
  if (env.src !== undefined && typeof env.src !== 'string') return 'envelope "src" is not a string'
  return env as unknown as Envelope
}

/** Turns zod issues into short lines (`path: reason`), never echoing values. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
}

/** Validates a payload against an optional schema: the parsed value, or an InvalidPayloadError. */
export function validate(
  schema: z.ZodType | undefined,
  target: string,
  value: unknown,
): { ok: true; value: unknown } | { ok: false; error: InvalidPayloadError } {
  if (!schema) return { ok: true, value }
  const result = schema.safeParse(value)
  if (result.success) return { ok: true, value: result.data }
  return { ok: false, error: new InvalidPayloadError(target, describeIssues(result.error), result.error) }
}

/** Decodes a stream entry's payload and validates it, or returns why it is invalid. */
export function decodeEntry(
  target: string,
  entry: RawEntry,
  schema: z.ZodType | undefined,
): unknown | InvalidPayloadError {
  let raw: string | undefined
  let version: string | undefined
  const fields = entry.fields
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]
    if (name === 'data') raw = fields[i + 1]
    else if (name === 'v') version = fields[i + 1]
  }
  if (raw === undefined) return new InvalidPayloadError(target, ['entry has no "data" field'])
  if (version !== undefined && version !== String(ENVELOPE_VERSION)) {
    return new InvalidPayloadError(target, [`unknown envelope version ${JSON.stringify(version)}`])
  }
  let data: unknown
  try {
    data = JSON.parse(raw)
  } catch {
    return new InvalidPayloadError(target, ['"data" is not JSON'])
  }
  if (!schema) return data
  const checked = validate(schema, target, data)
  return checked.ok ? checked.value : checked.error
}
