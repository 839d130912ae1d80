/**
 * The redaction the composition root gives the audit log at construction (and the workers use to
 * encode records before they cross IPC): the built-in card detectors, so the audit stage never
 * reaches into the masking stage itself.
 */
import { isDigitCode, maskDocument } from '../mask/index.js';
import { CARD_PLAN } from '../proxy/index.js';

/**
 * The fewest digits any finding of CARD_RULES holds: `cvv` is a label and 3–4 digits (a JSON
 * key can be the label: `{"cvv":"123"}`), `expiry` a label or key and `M/YY` (`1/27`: 3 digits), a
 * PAN 13 (`pan`), track data 19. A string is read as text, JSON or an event stream (maskDocument),
 * and every decoded digit comes from one of its own: a plain digit, or a `\u003N` escape (four).
 * Digits are counted in every script, as the PAN detector reads them (`４`, `٤`: mask/digits.ts);
 * the other detectors read ASCII digits only. So a string with fewer cannot be changed, and skips the engine (test/app/audit-scrub.test.ts checks it against the full pass).
 */
export const MIN_CARD_DIGITS = 3;

/** Whether `s` has fewer than MIN_CARD_DIGITS digits: no card rule can find anything in it. */
export function tooFewDigits(s: string): boolean {
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigitCode(c) && ++digits >= MIN_CARD_DIGITS) return false;
  }
  return true;
}

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
