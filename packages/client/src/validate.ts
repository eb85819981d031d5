import type { z } from 'zod'
import { InvalidOptionError } from './errors.js'

const SECRET_FIELDS = /pass(word)?|secret|token|key$/i

/**
 * Validates `input` with a zod schema at a public boundary and returns the parsed, frozen result.
 * The first issue becomes an InvalidOptionError naming the field (dotted path) and the reason; values of
 * secret-looking fields are never echoed.
 */
export function parseOptions<S extends z.ZodType>(
  pkg: string,
  schema: S,
  input: unknown,
  prefix = '',
): Readonly<z.output<S>> {
  const result = schema.safeParse(input ?? {})
  if (result.success) return Object.freeze(result.data) as Readonly<z.output<S>>
  const issue = result.error.issues[0]!
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(options)'
  let reason = issue.message
  if (SECRET_FIELDS.test(path))
    reason = reason.replace(/, got .*$/, '').replace(/received .*/, 'received a different type')
  if (issue.code === 'unrecognized_keys') {
    return fail(pkg, `${path === '(options)' ? '' : `${path}.`}${issue.keys[0]}`, 'is not a known option')
  }
  return fail(pkg, path, reason.startsWith('must') ? reason : `is invalid: ${reason}`)
}

function fail(pkg: string, field: string, reason: string): never {
  throw new InvalidOptionError(pkg, field, reason)
}
