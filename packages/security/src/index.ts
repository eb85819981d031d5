export { type Acl, type AclOptions, generateAcl } from './acl.js'
export { ACL_PACKAGES, type AclPackage } from './acl-profiles.js'
export {
  type AuditEntry,
  AuditLog,
  type AuditLogOptions,
  type AuditRecord,
  type AuditVerifyReport,
} from './audit-log.js'
export { type AuditedCacheOptions, auditedCache } from './audited-cache.js'
export {
  type CacheAuditOptions,
  type CacheWriteAudit,
  type CacheWriteEvent,
  cacheAudit,
} from './cache-audit.js'
export { assertClassification, type Classification } from './classification.js'
export {
  type CodecContext,
  type EncryptionCodec,
  type EncryptionCodecOptions,
  encryptionCodec,
  isEncryptingCodec,
} from './encryption-codec.js'
export {
  type EraseCacheTarget,
  type EraseReport,
  type EraseSessionTarget,
  type EraseSubjectOptions,
  eraseChannel,
  eraseSubject,
} from './erase-subject.js'
export {
  DecryptError,
  KeyDisabledError,
  KeyNotFoundError,
  type SecurityErrorCode,
  UnencryptedError,
} from './errors.js'
export { readSealedHeader, type SealedHeader } from './format.js'
export {
  KeyUsageCounter,
  type KeyUsageCounterOptions,
  type KeyUsageEvent,
  keyUsageChannel,
} from './key-usage.js'
export { KeyedHash, type KeyedHashOptions } from './keyed-hash.js'
export { type KeyInfo, type KeyInput, Keyring, type KeyringOptions, type KeyStatus } from './keyring.js'
export { redact } from './redact.js'
export {
  cacheValuePattern,
  type RewrapOptions,
  type RewrapProgress,
  rewrap,
  rewrapChannel,
} from './rewrap.js'
export { SubjectIndex, type SubjectIndexOptions } from './subject-index.js'
export { type AclNodeReport, type AclProbeResult, type AclReport, verifyAcl } from './verify-acl.js'
