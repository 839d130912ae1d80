/**
 * The decisions of an audit log as `regate policy diff` re-evaluates them: each `request.decision`
 * record the filter keeps, with the policy input it was decided on rebuilt from the record (the
 * audit stage owns that format). A decision whose input cannot be rebuilt faithfully is kept with
 * the reason it is skipped, never re-evaluated on a guess.
 */
import { AuditReadError, parseRecord, rebuildInput, type AuditRecord, type DecisionEffect, type RebuiltInput, type storeInput } from '../audit/index.js';

export { UNREBUILT_REASONS as SKIP_REASONS, type UnrebuiltReason as SkipReason } from '../audit/index.js';

/** Which request a recorded decision was about, as a change names it. */
export interface DecisionFacts {
  seq: number;
  ts: string;
  request_id: string;
  subject: string | null;
  route: string;
  method: string;
  path: string;
}

/** A recorded decision with its rebuilt input, or with the reason it cannot be decided again. */
export type RecordedDecision = RebuiltInput & {
  facts: DecisionFacts;
  /** What the gateway decided and recorded (`limited` read as the policy's hold, see below). */
  effect: Exclude<DecisionEffect, 'limited'>;
  reason: string;
  rules: string[];
};

/** Which decisions to compare: recorded at or after `sinceMs`, on `route`, by `subject`. */
export interface DecisionFilter {
  sinceMs?: number;
  route?: string;
  subject?: string;
}

/** The recorded decision a record holds, when it is a `request.decision` that `filter` keeps; else null. */
export function recordedDecision(r: AuditRecord, filter: DecisionFilter = {}): RecordedDecision | null {
  const e = r.event;
  if (e.type !== 'request.decision') return null;
  if (filter.sinceMs !== undefined && Date.parse(r.ts) < filter.sinceMs) return null;
  if (filter.route !== undefined && e.route !== filter.route) return null;
  if (filter.subject !== undefined && e.subject !== filter.subject) return null;
  return {
    facts: { seq: r.seq, ts: r.ts, request_id: e.request_id, subject: e.subject, route: e.route, method: e.method, path: e.path },
    // `limited` with an input: the policy held the request and the gateway could not hold it (too
    // many pending holds). Without one (a rate limit) the decision is skipped: nothing to decide again.
    effect: e.decision.effect === 'limited' ? 'hold' : e.decision.effect,
    reason: e.decision.reason,
    rules: e.decision.rules ?? [],
    ...rebuildInput(e),
  };
}

/** Every record of a log source (`storeInput` or `fileInput`), in log order; a record that does not parse stops the run. */
export function* logRecords(items: ReturnType<typeof storeInput>['input']): Generator<AuditRecord> {
  for (const item of items) {
    if (item.kind === 'start') continue;
    for (const entry of item.kind === 'segment' ? item.segment.entries : item.entries) {
      const r = parseRecord(entry.bytes);
      if (typeof r === 'string') throw new AuditReadError(`${entry.where} is not an audit record (${r}); run \`regate audit verify\` on this log`);
      yield r;
    }
  }
}
