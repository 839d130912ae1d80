/**
 * Shadow mode (config `policy.shadow`): a second policy decides every request beside the enforced
 * one, to see where a new bundle would disagree before it is enforced. It runs off the response
 * path: the pipeline hands over the input and the enforced decision and goes on; the shadow decides
 * later in the same process (a bounded queue drained on the next turns of the event loop), counts
 * agreements and disagreements in /metrics, and records each disagreement as a
 * `policy.shadow_disagreement` audit event with both decisions. Nothing it does, fails at or waits
 * for reaches the answer: a full queue drops the shadow decision (counted), a shadow that fails is a
 * disagreement of kind `*_to_error`, an audit write that fails is logged.
 */
import type { AuditEvent, ShadowSide } from '../audit/index.js';
import { changeKind, effectOf, type Decision, type PolicyInput, type Verdict } from '../policy/index.js';
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';

/** The shadow bundle in force (watched like the enforced one). */
export interface ShadowPolicy {
  readonly revision: string;
  evaluateJson(json: string): Decision;
}

/** Which request a shadow decision is about. */
export interface ShadowFacts {
  request_id: string;
  subject: string | null;
  route: string;
}

interface Job {
  facts: ShadowFacts;
  input: PolicyInput;
  revision: string;
  enforced: Verdict;
}

/** Shadow decisions waiting at most; beyond it a request's shadow decision is dropped, not queued. */
export const SHADOW_QUEUE_LIMIT = 1000;

function sideOf(revision: string, v: Verdict): ShadowSide {
  if ('error' in v) return { policy_revision: revision, effect: 'error', reason: v.error, rules: [], mask: null, hold: null };
  const d = v.decision;
  return { policy_revision: revision, effect: effectOf(v), reason: d.reason, rules: d.rules ?? [], mask: d.mask, hold: d.hold };
}

export class ShadowObserver {
  readonly #queue: Job[] = [];
  readonly #writes = new Set<Promise<void>>();
  #scheduled: NodeJS.Immediate | null = null;
  #idle: (() => void) | null = null;

  constructor(
    private readonly shadow: { current(): ShadowPolicy },
    private readonly services: { append(event: AuditEvent): Promise<unknown>; metrics: GatewayMetrics; logger: Logger },
    private readonly limit = SHADOW_QUEUE_LIMIT,
  ) {}

  /** Hands over one request's input and enforced answer; returns at once. `input` must not change afterwards. */
  observe(facts: ShadowFacts, input: PolicyInput, revision: string, enforced: Verdict): void {
    if (this.#queue.length >= this.limit) {
      this.services.metrics.shadowDecisions.inc({ result: 'dropped' });
      return;
    }
    this.#queue.push({ facts, input, revision, enforced });
    this.#scheduled ??= setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = null;
    // One batch a turn, so requests arriving meanwhile are served between batches.
    for (const job of this.#queue.splice(0, 64)) this.#decide(job);
    if (this.#queue.length > 0) this.#scheduled = setImmediate(() => this.#drain());
    else this.#idle?.();
  }

  #decide(job: Job): void {
    const policy = this.shadow.current();
    let verdict: Verdict;
    try {
      verdict = { decision: policy.evaluateJson(JSON.stringify(job.input)) };
    } catch (err) {
      verdict = { error: err instanceof Error ? err.message : String(err) };
    }
    const kind = changeKind(job.enforced, verdict);
    this.services.metrics.shadowDecisions.inc({ result: kind ? 'disagree' : 'agree' });
    if (!kind) return;
    this.services.metrics.shadowDisagreements.inc({ kind });
    const write = this.services
      .append({ type: 'policy.shadow_disagreement', ...job.facts, kind, enforced: sideOf(job.revision, job.enforced), shadow: sideOf(policy.revision, verdict) })
      .then(
        () => undefined,
        (err: unknown) => this.services.logger.log('error', 'audit shadow disagreement record failed', { request_id: job.facts.request_id, error: (err as Error).message }),
      )
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  /** Decides what is queued and waits for its records: call before the audit log closes. */
  async close(): Promise<void> {
    if (this.#queue.length > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    await Promise.all(this.#writes);
  }
}
