/**
 * The audit stage's public surface: the writer (AuditLog), the event types the gateway records,
 * the signing key helper, checkpoints and signed notes (the witness reads and cosigns them), and the
 * readers the CLI uses (verify, export, prove, replay, tail).
 */
export { AuditLog, type AuditLogOptions, type Sealed, type WitnessedCheckpoint } from './log.js';
export type { Durability } from './store.js';
export { openStore, storedCheckpoints, lastStoredCheckpoint, checkpointEnd, prunedThrough, storeBytes, storePageSize, newStorePageSize, STORE_PAGE_SIZE, type Store, type StoredCheckpoint } from './store.js';
export * from './events.js';
export * from './errors.js';
export { loadOrCreateAuditKey, readTrustedKeys, keyIdOf, statePublicKeyFiles, stateTrust, type TrustedKey } from './keys.js';
export { type AnyCheckpoint, type Checkpoint, type CheckpointPayload, type NoteCheckpoint, decodeAnyCheckpoint, parseNoteCheckpoint, verifyAnyCheckpoint, checkpointText } from './checkpoint.js';
export { cosignature, cosignatureLine, hasSignature, parseNote, parseVerifierKey, verifierKey, rawPublicKey, strictBase64, type Note } from './note.js';
export { checkConsistency, Frontier, leafHash, RangeHasher } from './merkle.js';
export { parseRecord, type AuditRecord } from './record.js';
export { verifyLog, type VerifyResult, type VerifySummary, type Fault, type FaultKind, type Witness } from './verify.js';
export { storeInput, fileInput, checkpointFile, segmentFileName, type ExportManifest } from './sources.js';
export { exportSegments, type ExportResult } from './export.js';
export { consistencyNodes, proveInclusion, proveConsistency, verifyInclusion, verifyConsistency, type InclusionProof, type LegacyInclusionProof, type ConsistencyProof } from './proof.js';
export { findExchange, tailRecords } from './query.js';
export { requestStory, storyLine } from './story.js';
export { rebuildInput, recordInput, serialiseInput, UNREBUILT_REASONS, type RebuiltInput, type SerialisedInput, type UnrebuiltReason } from './recorded-input.js';
export type { AuditArchive, ArchivedSegment, ArchiveEntry } from './archive.js';
export { joinRecords, type AppendedRecords } from './archive.js';
export { FolderArchive } from './archive-folder.js';
export { Archiver, type ArchiverOptions, type ArchiverStats } from './archiver.js';
export { archiveInput, archiveOnlyInput } from './sources.js';
export { LogReader, type LogSegment } from './log-reader.js';
