/** The decision-log stage's typed failures; none of them stops a request (the audit log is the durable record). */
import { RegateError } from '../util/index.js';

/** An upload of decision-log events failed; the events are kept for the next attempt. */
export class DecisionLogUploadError extends RegateError {
  static override readonly code: string = 'ERR_DECISION_LOG_UPLOAD';
}

/** A status report could not be delivered; the next one carries the then-current state. */
export class StatusReportError extends RegateError {
  static override readonly code: string = 'ERR_STATUS_REPORT';
}
