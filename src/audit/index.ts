/**
 * The audit stage's public surface: the writer (AuditLog), the event types the gateway records,
 * the signing key helper, and the readers the CLI uses (verify, export, prove, replay, tail).
 */
export { AuditLog, type AuditLogOptions } from './log.js';
export type { Durability } from './store.js';
export { openStore, storedCheckpoints, type Store } from './store.js';
export * from './events.js';
export * from './errors.js';
export { loadOrCreateAuditKey, readTrustedKeys, keyIdOf, statePublicKeyFiles, type TrustedKey } from './keys.js';
export { type Checkpoint, type CheckpointPayload, decodeCheckpoint } from './checkpoint.js';
export { parseRecord, type AuditRecord } from './record.js';
export { verifyLog, type VerifyResult, type VerifySummary, type Fault, type FaultKind } from './verify.js';
export { storeInput, fileInput, checkpointFileJws } from './sources.js';
export { exportSegments, type ExportResult } from './export.js';
export { proveInclusion, verifyInclusion, type InclusionProof } from './proof.js';
export { findExchange, tailRecords } from './query.js';
export { rebuildInput, recordInput, UNREBUILT_REASONS, type RebuiltInput, type UnrebuiltReason } from './recorded-input.js';
