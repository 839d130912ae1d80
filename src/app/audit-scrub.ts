/**
 * The redaction the composition root gives the audit log at construction (and the workers use to
 * encode records before they cross IPC): the built-in card detectors, so the audit stage never
 * reaches into the masking stage itself.
 */
import { compileMaskPlan, maskText } from '../mask/index.js';
import { CARD_RULES } from '../proxy/index.js';

/**
 * Defence in depth: every string the audit log stores passes the card detectors once more. The
 * built-in pass skips, without the RE2 call, strings that cannot hold card data (most strings of a
 * record: ids, hashes, routes, reasons), which was the audit path's largest cost (bench/README.md).
 */
const auditScrubPlan = compileMaskPlan(CARD_RULES);
export const auditScrub = (s: string): string => maskText(auditScrubPlan, s).text;
