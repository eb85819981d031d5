import { InvalidArgumentError } from '@cache/client'
import { PKG } from './defaults.js'
import { isEncryptingCodec } from './encryption-codec.js'
import { UnencryptedError } from './errors.js'

/** Data classification label of a namespace. */
export type Classification = 'public' | 'internal' | 'confidential' | 'restricted'

const LABELS: readonly Classification[] = ['public', 'internal', 'confidential', 'restricted']

/**
 * Checks a namespace's codec against its label: `confidential` and `restricted` refuse a codec without
 * encryption (E_UNENCRYPTED). Returns true when writes of the namespace must be audited (those two labels).
 *
 * @example
 * assertClassification({ namespace: 'pii', classification: 'restricted', codec })
 */
export function assertClassification(input: {
  namespace: string
  classification: Classification
  codec?: unknown
}): boolean {
  if (!LABELS.includes(input?.classification))
    throw new InvalidArgumentError(
      PKG,
      'classification',
      'must be public, internal, confidential or restricted',
    )
  const sensitive = input.classification === 'confidential' || input.classification === 'restricted'
  if (sensitive && !isEncryptingCodec(input.codec))
    throw new UnencryptedError(input.namespace, input.classification)
  return sensitive
}
