/**
 * How two decisions on the same input differ (a candidate or shadow policy against the enforced
 * one, in `regate policy diff` and shadow mode), as one kind: the effect changed (`allow_to_deny`,
 * `deny_to_allow`, `allow_to_hold`, … and `*_to_error` when a policy fails, which the gateway
 * answers with a fail-closed 503), or the effect stayed and what it does changed (`mask_change`:
 * other mask rules; `hold_change`: other approvers, time-to-live or grant limits). A change of
 * wording alone (`reason`, `rules`) is not a change of what the gateway does.
 */
import type { Decision, MaskRule } from '../contract/index.js';

/** What the gateway does with a decision; `mask` is an allow with mask rules. */
export type Effect = 'allow' | 'mask' | 'deny' | 'hold' | 'error';

/** One policy's answer on an input: its decision, or the error it failed with. */
export type Verdict = { decision: Decision } | { error: string };

const BASE = ['allow', 'deny', 'hold', 'error'] as const;
type BaseEffect = (typeof BASE)[number];

export type ChangeKind = `${BaseEffect}_to_${BaseEffect}` | 'mask_change' | 'hold_change';

/** Every kind, effect changes first (allow_to_deny, allow_to_hold, …), then mask_change and hold_change. */
export const CHANGE_KINDS: readonly ChangeKind[] = [
  ...BASE.flatMap((a) => BASE.filter((b) => b !== a).map((b) => `${a}_to_${b}` as ChangeKind)),
  'mask_change',
  'hold_change',
];

export function effectOf(v: Verdict): Effect {
  if ('error' in v) return 'error';
  const d = v.decision;
  if (d.hold) return 'hold';
  if (!d.allow) return 'deny';
  return d.mask.request.length || d.mask.response.length ? 'mask' : 'allow';
}

const base = (e: Effect): BaseEffect => (e === 'mask' ? 'allow' : e);

/** A list of mask rules as a multiset: the order rules are listed in does not change what is masked. */
function ruleSet(rules: MaskRule[]): string {
  return rules
    .map((r) => JSON.stringify([r.detector ?? null, r.path ?? null, r.format ?? null]))
    .sort()
    .join('\n');
}

function sameMask(a: Decision, b: Decision): boolean {
  return ruleSet(a.mask.request) === ruleSet(b.mask.request) && ruleSet(a.mask.response) === ruleSet(b.mask.response);
}

function sameHold(a: Decision, b: Decision): boolean {
  const x = a.hold!;
  const y = b.hold!;
  return (
    [...x.approvers].sort().join('\n') === [...y.approvers].sort().join('\n') &&
    x.ttl_seconds === y.ttl_seconds &&
    (x.approvals_required ?? 1) === (y.approvals_required ?? 1) &&
    x.max_grant_seconds === y.max_grant_seconds
  );
}

/** The kind of change from `before` to `after`, or null when the gateway would do the same. */
export function changeKind(before: Verdict, after: Verdict): ChangeKind | null {
  const a = base(effectOf(before));
  const b = base(effectOf(after));
  if (a !== b) return `${a}_to_${b}`;
  if (!('decision' in before) || !('decision' in after) || a === 'deny') return null;
  if (!sameMask(before.decision, after.decision)) return 'mask_change';
  if (a === 'hold' && !sameHold(before.decision, after.decision)) return 'hold_change';
  return null;
}
