import { CacheError } from '@cache/client'
import { PKG } from './defaults.js'

/** Data classification label of a cache's namespace (@cache/security's labels). */
export type Classification = 'public' | 'internal' | 'confidential' | 'restricted'

/** The labels, least sensitive first. */
export const CLASSIFICATIONS: readonly Classification[] = ['public', 'internal', 'confidential', 'restricted']

declare module '@cache/client' {
  /** E_UNENCRYPTED is @cache/security's code; core throws it for a classified namespace. */
  interface CacheErrorCodes {
    E_UNENCRYPTED: true
  }
}

/**
 * `confidential` and `restricted` caches refuse a codec that does not encrypt (one marked
 * `encrypted: true`, such as @cache/security's encryptionCodec) with E_UNENCRYPTED, at construction.
 */
export function checkClassification(namespace: string, classification: Classification, codec: unknown): void {
  if (classification !== 'confidential' && classification !== 'restricted') return
  if ((codec as { encrypted?: unknown } | undefined)?.encrypted === true) return
  throw new CacheError(
    'E_UNENCRYPTED',
    `[${PKG}] namespace "${namespace}" is ${classification}: its codec must encrypt (encryptionCodec from @cache/security)`,
    { details: { namespace, classification } },
  )
}
