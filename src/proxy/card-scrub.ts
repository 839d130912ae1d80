/**
 * Every card detector, and the gateway's own text passed through them: what the gateway writes
 * itself — a policy's reason that quotes the request (`limit 4111… exceeds…`), an error message
 * that names the path it could not route, an approver's reason — goes to the client, the console
 * and the logs with no card number in it, whatever the decision's own mask rules say.
 */
import { compileMaskPlan, maskText, type MaskPlan } from '../mask/index.js';
import type { Decision, MaskRule } from '../contract/index.js';

/** Every card detector, for text shown to approvers and clients whatever the decision's own rules. */
export const CARD_RULES: MaskRule[] = [
  { detector: 'pan', format: 'last4' },
  { detector: 'cvv', format: 'full' },
  { detector: 'track', format: 'full' },
  { detector: 'expiry', format: 'full' },
];

/** CARD_RULES compiled once, for every scrub of the gateway's own text and the audit log's. */
export const CARD_PLAN: MaskPlan = compileMaskPlan(CARD_RULES);

/** `text` with every card datum masked (the same string when there is none). */
export function scrubCards(text: string): string {
  return maskText(CARD_PLAN, text).text;
}

/** The decision with card data masked out of its reason and its hold's (the same object when there is none). */
export function scrubDecision(d: Decision): Decision {
  const reason = scrubCards(d.reason);
  const holdReason = d.hold ? scrubCards(d.hold.reason) : null;
  if (reason === d.reason && (d.hold === null || holdReason === d.hold.reason)) return d;
  return { ...d, reason, hold: d.hold ? { ...d.hold, reason: holdReason! } : null };
}
