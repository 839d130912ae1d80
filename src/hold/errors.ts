/**
 * Typed failures of the holds stage. The proxy and the admin API map them to HTTP statuses by
 * `code` (see `httpStatusFor` in src/admin/http.ts); the CLI prints their message as one sentence.
 */
import { RegateError } from '../util/index.js';

/** Too many pending holds for one identity or in total: the proxy answers 429. */
export class HoldLimitExceeded extends RegateError {
  static override readonly code: string = 'ERR_HOLD_LIMIT';
}

/** No hold (or grant) with the given id exists in the store. */
export class HoldNotFound extends RegateError {
  static override readonly code: string = 'ERR_HOLD_NOT_FOUND';
}

/** The hold was already approved, denied or expired: it cannot change state again. */
export class HoldNotPending extends RegateError {
  static override readonly code: string = 'ERR_HOLD_NOT_PENDING';
}

/** The caller may not act on this hold: own request, not in an approver group, or approved twice. */
export class ApprovalRefused extends RegateError {
  static override readonly code: string = 'ERR_APPROVAL_REFUSED';
}

/** A grant was asked for that the hold's policy does not allow (none, or longer than its maximum). */
export class GrantRefused extends RegateError {
  static override readonly code: string = 'ERR_GRANT_REFUSED';
}

/** An approved-after-timeout replay was already used (or is no longer valid). */
export class ReplayUnavailable extends RegateError {
  static override readonly code: string = 'ERR_REPLAY_UNAVAILABLE';
}

/** The audit callback failed: the state change did not happen (fail closed). */
export class HoldAuditFailed extends RegateError {
  static override readonly code: string = 'ERR_HOLD_AUDIT_FAILED';
}

/** The auditors' view has no audit log behind it (or could not audit the view). */
export class AuditViewUnavailable extends RegateError {
  static override readonly code: string = 'ERR_AUDIT_VIEW_UNAVAILABLE';
}

/** The hold store on disk could not be opened or written. */
export class HoldStoreError extends RegateError {
  static override readonly code: string = 'ERR_HOLD_STORE';
}
