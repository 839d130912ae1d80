/**
 * The holds stage's public surface: the `HoldService` state machine (hold a request until
 * approvers decide, remember grants, hand out one replay), its read-only `HoldReader` (what
 * workers and the CLI use), the rules an approval must satisfy, and the stage's errors. The admin
 * API and console that drive it live in src/admin.
 */
export { HoldService, type HoldChange, type HoldOutcome, type HoldRequest, type OpenedHold, type HoldServiceOptions } from './service.js';
export { HoldReader } from './reader.js';
export { requestDigest, requestDigestOf } from './request-digest.js';
export type { HoldBackend, HoldIndex, HoldWriter, RemoteChange } from './backend.js';
export { approvalsRequired } from './rules.js';
export * from './errors.js';
export type { ApprovalEntry, Grant, Hold, HoldAuditEvent, HoldAuditType, HoldState, Principal } from './types.js';
