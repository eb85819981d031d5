import { z } from 'zod'
import { Keyring } from './keyring.js'

/** A `namespace` option of this package (one key part), defaulting to `fallback`. */
export function zNamespace(fallback: string) {
  return z
    .string()
    .regex(/^[A-Za-z0-9._\-@/=+]+$/, 'must be letters, digits and ._-@/=+')
    .default(fallback)
}

/** A `keyring` option. */
export const zKeyring = z.custom<Keyring>((v) => v instanceof Keyring, 'must be a Keyring')
