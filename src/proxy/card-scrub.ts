/**
 * Every card detector, and the gateway's own text passed through them: what the gateway writes
 * itself — a policy's reason that quotes the request (`limit 4111… exceeds…`), an error message
 * that names the path it could not route, an approver's reason — goes to the client, the console
 * and the logs with no card number in it, whatever the decision's own mask rules say.
 */
import { compileMaskPlan, isDigitCode, maskText, type MaskPlan } from '../mask/index.js';
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

/**
 * The fewest digits any finding of CARD_RULES holds: `cvv` is a label and 3–4 digits (a JSON key
 * can be the label: `{"cvv":"123"}`), `expiry` a label or key and `M/YY` (`1/27`: 3 digits), a PAN
 * 13 (`pan`), track data 19 — but for half an expiry date under its own key (`{"exp_month":7}`),
 * one digit. A string is read as text (`scrubCards`), or as text, JSON or an event stream (the
 * audit log's scrubber, maskDocument), and every decoded digit comes from one of its own: a plain
 * digit, or a `\u003N` escape (four). Digits are counted in every script, as the PAN detector reads
 * them (`４`, `٤`: mask/digits.ts). So a string with fewer cannot be changed, and skips the engine,
 * unless it has a digit and spells `exp` in ASCII letters, as every key naming an expiry's month or
 * year does (a letter spelled as an escape, `\u0065`, brings four digits of its own).
 * test/app/audit-scrub.test.ts checks both against the full pass.
 */
export const MIN_CARD_DIGITS = 3;

/** Whether no card rule can find anything in `s`: fewer than MIN_CARD_DIGITS digits, and no expiry half under its key. */
export function tooFewDigits(s: string): boolean {
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigitCode(c) && ++digits >= MIN_CARD_DIGITS) return false;
  }
  return digits === 0 || !EXP.test(s);
}

const EXP = /exp/i;

/** `text` with every card datum masked (the same string when there is none). */
export function scrubCards(text: string): string {
  // A decision's reason is scrubbed on every request: most hold no digits at all.
  return tooFewDigits(text) ? text : maskText(CARD_PLAN, text).text;
}

/** The decision with card data masked out of its reason and its hold's (the same object when there is none). */
export function scrubDecision(d: Decision): Decision {
  const reason = scrubCards(d.reason);
  const holdReason = d.hold ? scrubCards(d.hold.reason) : null;
  if (reason === d.reason && (d.hold === null || holdReason === d.hold.reason)) return d;
  return { ...d, reason, hold: d.hold ? { ...d.hold, reason: holdReason! } : null };
}
