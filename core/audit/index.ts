export {
  AuditLog,
  GENESIS_HASH,
  canonicalJson,
  recordHash,
  type AuditInterface,
  type AuditRecord,
  type AuditRecordInput,
  type AuditRow,
  type AuditStore,
  type VerifyProblem,
  type VerifyResult,
} from './log.js';
