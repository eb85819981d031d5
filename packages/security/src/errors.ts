import { CacheError } from '@cache/client'
import { PKG } from './defaults.js'

/** Stable error codes of @cache/security. */
export type SecurityErrorCode = 'E_DECRYPT' | 'E_KEY_NOT_FOUND' | 'E_KEY_DISABLED' | 'E_UNENCRYPTED'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<SecurityErrorCode, true> {}
}

/**
 * A value could not be authenticated and decrypted: tampered, truncated, extended, written for another
 * Redis key, or not an encrypted value at all. Never carries the value or the key.
 */
export class DecryptError extends CacheError {
  /** Why it failed, e.g. `'authentication failed'`, `'truncated'`. */
  readonly reason: string
  constructor(reason: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('E_DECRYPT', `[${PKG}] value cannot be decrypted: ${reason}`, {
      cause,
      details: { reason, ...details },
    })
    this.reason = reason
  }
}

/** The value names a key id the keyring does not hold (destroyed, or another keyring). */
export class KeyNotFoundError extends CacheError {
  /** The key id written in the value. */
  readonly keyId: string
  constructor(keyId: string) {
    super('E_KEY_NOT_FOUND', `[${PKG}] key "${keyId}" is not in the keyring`, { details: { keyId } })
    this.keyId = keyId
  }
}

/** The value was written under a key whose status is `disabled`: it is refused until the key is re-enabled. */
export class KeyDisabledError extends CacheError {
  /** The disabled key id. */
  readonly keyId: string
  constructor(keyId: string) {
    super('E_KEY_DISABLED', `[${PKG}] key "${keyId}" is disabled`, { details: { keyId } })
    this.keyId = keyId
  }
}

/** A confidential or restricted namespace was given a codec that does not encrypt. */
export class UnencryptedError extends CacheError {
  /** The namespace that was refused. */
  readonly namespace: string
  constructor(namespace: string, classification: string) {
    super(
      'E_UNENCRYPTED',
      `[${PKG}] namespace "${namespace}" is ${classification}: its codec must encrypt (encryptionCodec)`,
      {
        details: { namespace, classification },
      },
    )
    this.namespace = namespace
  }
}
