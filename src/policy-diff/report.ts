/**
 * A diff report for people: the summary table (the counts a reviewer asks for first always shown,
 * other kinds when they occur), then each changed decision with both sides and the rules behind
 * them. `--json` prints the report object itself (diff.ts) instead.
 */
import { CHANGE_KINDS, type ChangeKind } from '../policy/index.js';
import type { Change, DiffReport, Side } from './diff.js';
import type { SkipReason } from './recorded.js';

/** The rows a summary always has, whether or not they occurred. */
const ALWAYS: readonly ChangeKind[] = ['allow_to_deny', 'allow_to_hold', 'deny_to_allow', 'mask_change'];

const SKIPPED: Record<SkipReason, string> = {
  gateway_refusal: 'refused by the gateway before the policy decided',
  no_input: 'recorded without a policy input',
  body_truncated: 'request body longer than the audit cap',
  input_unreadable: 'recorded input unreadable',
};

export function kindLabel(kind: ChangeKind): string {
  if (kind === 'mask_change') return 'mask changes';
  if (kind === 'hold_change') return 'hold changes';
  return kind.replace('_to_', ' → ');
}

function row(label: string, n: number): string {
  return `  ${label.padEnd(22)}${String(n).padStart(8)}`;
}

function sideLine(s: Side): string {
  const rules = s.rules.length ? ` [${s.rules.join(', ')}]` : '';
  return `${s.effect}${rules}: ${s.reason}`;
}

function changeLines(c: Change): string[] {
  return [
    `  ${c.request_id}  ${c.subject ?? '(anonymous)'}  ${c.route}  ${c.method} ${c.path}  ${c.before.effect} → ${c.after.effect} (${kindLabel(c.kind)})`,
    `      before: ${sideLine(c.before)}`,
    `      after:  ${sideLine(c.after)}`,
  ];
}

/** The report as text, ending in a newline. */
export function formatReport(r: DiffReport, baselineLabel: string): string {
  const s = r.summary;
  const lines = [`policy diff: candidate ${s.candidate_revision} against ${baselineLabel}`, row('decisions compared', s.compared), row('unchanged', s.unchanged)];
  for (const kind of CHANGE_KINDS) if (ALWAYS.includes(kind) || s[kind] > 0) lines.push(row(kindLabel(kind), s[kind]));
  const skipped = Object.entries(s.skipped).filter(([, n]) => n > 0);
  if (skipped.length) {
    lines.push(row('skipped', skipped.reduce((a, [, n]) => a + n, 0)) + `  (${skipped.map(([why, n]) => `${n} ${SKIPPED[why as SkipReason]}`).join('; ')})`);
  }
  if (s.baseline_mismatch > 0) lines.push(row('baseline mismatch', s.baseline_mismatch) + '  (the baseline did not reproduce the recorded effect)');
  if (r.changes.length) lines.push('', `changed decisions (${r.changes.length}):`, ...r.changes.flatMap(changeLines));
  return `${lines.join('\n')}\n`;
}
