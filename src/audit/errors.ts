/**
 * The audit stage's typed failures. The proxy turns an AuditWriteError into 503 (fail closed: a
 * request whose decision cannot be recorded is not served); the CLI turns a failed check into exit 1.
 */
import { RegateError } from '../util/index.js';

/** An append or seal could not be made durable; nothing already acknowledged is affected. */
export class AuditWriteError extends RegateError {
  static override readonly code: string = 'ERR_AUDIT_WRITE';
}

/** The LMDB map is full (mapSizeBytes reached). */
export class AuditLogFullError extends AuditWriteError {
  static override readonly code: string = 'ERR_AUDIT_LOG_FULL';
}

/** The log directory or its files cannot be written. */
export class AuditReadOnlyError extends AuditWriteError {
  static override readonly code: string = 'ERR_AUDIT_READ_ONLY';
}

/** append() after close(). */
export class AuditClosedError extends AuditWriteError {
  static override readonly code: string = 'ERR_AUDIT_CLOSED';
}

/** A value cannot be put in a record (not representable in canonical JSON). */
export class AuditFormatError extends RegateError {
  static override readonly code: string = 'ERR_AUDIT_FORMAT';
}

/** A log, export, key or proof could not be read (missing file, not a log). */
export class AuditReadError extends RegateError {
  static override readonly code: string = 'ERR_AUDIT_READ';
}

/** The archive could not store, read or delete a segment, or what it holds is not what was stored. */
export class AuditArchiveError extends RegateError {
  static override readonly code: string = 'ERR_AUDIT_ARCHIVE';
}

/**
 * The store does not extend the checkpoint this gateway last published (or a witness cosigned): it
 * was rolled back, truncated or rewritten. The gateway refuses to sign on top of it unless told to.
 */
export class AuditStoreMismatchError extends AuditWriteError {
  static override readonly code: string = 'ERR_AUDIT_STORE_MISMATCH';
}
