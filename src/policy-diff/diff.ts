/**
 * What a candidate policy would have done to recorded traffic: every recorded decision's input is
 * decided again by the baseline (by default the bundle of the revision recorded with it) and by the
 * candidate, and each difference in what the gateway would do is reported with both decisions and
 * the rules behind them. Baseline and candidate see the same rebuilt input, so a difference is the
 * policies' alone; where the baseline does not reproduce what was recorded (it depended on data the
 * log keeps masked, or another baseline was named) the decision is counted as a baseline mismatch.
 */
import type { AuditRecord } from '../audit/index.js';
import { changeKind, CHANGE_KINDS, effectOf, type ChangeKind, type Decision, type Effect, type Verdict } from '../policy/index.js';
import { recordedDecision, SKIP_REASONS, type DecisionFacts, type DecisionFilter, type RecordedDecision, type SkipReason } from './recorded.js';

/** A policy that decides on input JSON (a loaded bundle's PolicyEngine). */
export interface Evaluator {
  readonly revision: string;
  evaluateJson(json: string): Decision;
}

export interface DiffOptions {
  candidate: Evaluator;
  /** The baseline for a decision recorded by `revision`: one fixed bundle, or that revision's own bundle. */
  baseline: (revision: string) => Evaluator | Promise<Evaluator>;
  filter?: DecisionFilter;
  /** Called with the number of records read so far, every 1,000 records and at the end. */
  onProgress?: (records: number) => void;
}

/** One side of a change: what the gateway would do, and why. */
export interface Side {
  effect: Effect;
  reason: string;
  rules: string[];
  mask: Decision['mask'] | null;
  hold: Decision['hold'];
}

export interface Change extends DecisionFacts {
  kind: ChangeKind;
  /** What the gateway decided and recorded at the time. */
  recorded: Effect;
  baseline_revision: string;
  before: Side;
  after: Side;
}

export type Summary = {
  /** Decisions decided again by both policies. */
  compared: number;
  unchanged: number;
  changed: number;
  /** Decisions the filter kept but that could not be decided again, by reason. */
  skipped: Record<SkipReason, number>;
  /** Compared decisions whose baseline re-evaluation differs from the effect recorded at the time. */
  baseline_mismatch: number;
  candidate_revision: string;
  baseline_revisions: string[];
} & Record<ChangeKind, number>;

export interface DiffReport {
  summary: Summary;
  changes: Change[];
}

function verdict(policy: Evaluator, json: string): Verdict {
  try {
    return { decision: policy.evaluateJson(json) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function side(v: Verdict): Side {
  const effect = effectOf(v);
  if ('error' in v) return { effect, reason: v.error, rules: [], mask: null, hold: null };
  return { effect, reason: v.decision.reason, rules: v.decision.rules ?? [], mask: v.decision.mask, hold: v.decision.hold };
}

/** Compares baseline and candidate on every recorded decision `records` hold (in log order). */
export async function diffRecorded(records: Iterable<AuditRecord>, opts: DiffOptions): Promise<DiffReport> {
  const counts = Object.fromEntries(CHANGE_KINDS.map((k) => [k, 0])) as Record<ChangeKind, number>;
  const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  const baselines = new Set<string>();
  const changes: Change[] = [];
  let compared = 0;
  let mismatch = 0;
  let read = 0;
  for (const r of records) {
    if (++read % 1000 === 0) opts.onProgress?.(read);
    const d: RecordedDecision | null = recordedDecision(r, opts.filter);
    if (!d) continue;
    if (d.skip !== null) {
      skipped[d.skip]++;
      continue;
    }
    const baseline = await opts.baseline(d.revision);
    baselines.add(baseline.revision);
    const json = JSON.stringify(d.input);
    const before = verdict(baseline, json);
    const after = verdict(opts.candidate, json);
    compared++;
    if (effectOf(before) !== d.effect) mismatch++;
    const kind = changeKind(before, after);
    if (!kind) continue;
    counts[kind]++;
    changes.push({
      kind,
      ...d.facts,
      recorded: d.effect,
      baseline_revision: baseline.revision,
      before: side(before),
      after: side(after),
    });
  }
  opts.onProgress?.(read);
  return {
    summary: {
      compared,
      unchanged: compared - changes.length,
      changed: changes.length,
      ...counts,
      skipped,
      baseline_mismatch: mismatch,
      candidate_revision: opts.candidate.revision,
      baseline_revisions: [...baselines].sort(),
    },
    changes,
  };
}
