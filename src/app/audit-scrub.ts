/**
 * The redaction the composition root gives the audit log at construction (and the workers use to
 * encode records before they cross IPC): the built-in card detectors, so the audit stage never
 * reaches into the masking stage itself.
 */
import { maskDocument } from '../mask/index.js';
import { CARD_PLAN, tooFewDigits } from '../proxy/index.js';

/**
 * Defence in depth: every string the audit log stores passes the card detectors once more, masked
 * as the body it is (a recorded SSE or JSON body as one, so nothing split across events or spelled
 * in escapes survives; every other string as text). Most strings of a record (keys, routes, reasons,
 * methods, subjects) hold fewer digits than any card datum and are passed by before the engine,
 * which was a fifth of the gateway's CPU when every key and value went through it (bench/README.md,
 * round 5); inside the engine, the built-in pass skips the RE2 call for strings without a candidate.
 */
export const auditScrub = (s: string): string => (tooFewDigits(s) ? s : fullAuditScrub(s));

/** The engine's pass over `s`, without the digit pre-check (what `auditScrub` must equal). */
export function fullAuditScrub(s: string): string {
  const r = maskDocument(CARD_PLAN, s);
  // Unchanged unless something was found: re-masking a recorded event stream may move held-back
  // digits between events, and the record keeps the body as the client received it.
  for (const _ in r.counts) return r.text;
  return s;
}
