/**
 * The redaction the composition root gives the audit log at construction (and the workers use to
 * encode records before they cross IPC): the built-in card detectors, so the audit stage never
 * reaches into the masking stage itself.
 */
import { compileMaskPlan, maskDocument } from '../mask/index.js';
import { CARD_RULES } from '../proxy/index.js';

/**
 * Defence in depth: every string the audit log stores passes the card detectors once more, masked
 * as the body it is (a recorded SSE or JSON body as one, so nothing split across events or spelled
 * in escapes survives; every other string as text). The
 * built-in pass skips, without the RE2 call, strings that cannot hold card data (most strings of a
 * record: ids, hashes, routes, reasons), which was the audit path's largest cost (bench/README.md).
 */
const auditScrubPlan = compileMaskPlan(CARD_RULES);
export const auditScrub = (s: string): string => {
  const r = maskDocument(auditScrubPlan, s);
  // Unchanged unless something was found: re-masking a recorded event stream may move held-back
  // digits between events, and the record keeps the body as the client received it.
  for (const _ in r.counts) return r.text;
  return s;
};
