/**
 * Prometheus metrics in the text exposition format (version 0.0.4), written by hand: counters and
 * histograms with labels, rendered on the admin listener's `/metrics`. Recording is a map lookup and
 * a few additions, so it stays on the hot path without cost worth measuring.
 */

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

abstract class Metric<S> {
  protected readonly series = new Map<string, { values: string[]; state: S }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected state(labels: Labels): S {
    // The series key is the label values joined by NUL, built without an array: this runs several
    // times per request, and the values are only listed when a series is new.
    const names = this.labelNames;
    let key = names.length === 0 ? '' : (labels[names[0]!] ?? '');
    for (let i = 1; i < names.length; i++) key += `\u0000${labels[names[i]!] ?? ''}`;
    let s = this.series.get(key);
    if (!s) {
      s = { values: names.map((n) => labels[n] ?? ''), state: this.initial() };
      this.series.set(key, s);
    }
    return s.state;
  }

  protected abstract initial(): S;
  /** Adds `from` (another process's state of the same series) into `into`. */
  protected abstract add(into: S, from: S): void;
  protected abstract readonly type: string;

  /** Every series as plain data, for the `--workers` primary to sum. */
  snapshot(): Array<{ values: string[]; state: S }> {
    return [...this.series.values()];
  }

  /** Adds another process's snapshot of this metric into this one. */
  absorb(rows: Array<{ values: string[]; state: S }>): void {
    for (const { values, state } of rows) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      this.add(this.state(labels), state);
    }
  }
  protected abstract lines(values: string[], state: S): string[];

  render(): string {
    const out = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, state } of this.series.values()) out.push(...this.lines(values, state));
    return out.join('\n');
  }
}

export class Counter extends Metric<{ n: number }> {
  protected readonly type: string = 'counter';
  protected initial() {
    return { n: 0 };
  }
  protected add(into: { n: number }, from: { n: number }): void {
    into.n += from.n;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.state(labels).n += by;
  }
  get(labels: Labels = {}): number {
    return this.state(labels).n;
  }
  protected lines(values: string[], s: { n: number }): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatNumber(s.n)}`];
  }
}

/** A counter that may also go down. */
export class Gauge extends Counter {
  protected override readonly type: string = 'gauge';
}

interface HistState {
  counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistState> {
  protected readonly type = 'histogram';
  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    super(name, help, labelNames);
  }
  protected initial(): HistState {
    return { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
  }
  protected add(into: HistState, from: HistState): void {
    into.sum += from.sum;
    into.count += from.count;
    for (let i = 0; i < into.counts.length; i++) into.counts[i]! += from.counts[i] ?? 0;
  }
  observe(value: number, labels: Labels = {}): void {
    const s = this.state(labels);
    s.sum += value;
    s.count += 1;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]! += 1;
  }
  protected lines(values: string[], s: HistState): string[] {
    const out = this.buckets.map(
      (b, i) => `${this.name}_bucket${labelText(this.labelNames, values, `le="${formatNumber(b)}"`)} ${formatNumber(s.counts[i]!)}`,
    );
    out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${formatNumber(s.count)}`);
    out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatNumber(s.sum)}`);
    out.push(`${this.name}_count${labelText(this.labelNames, values)} ${formatNumber(s.count)}`);
    return out;
  }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HOLD_WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const EVAL_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

export type MetricsSnapshot = Array<Array<{ values: string[]; state: unknown }>>;

/** The gateway's metrics; one instance per gateway. */
export class GatewayMetrics {
  readonly requests = new Counter('regate_requests_total', 'Requests answered, by route, decision and status code.', ['route', 'decision', 'status']);
  readonly latency = new Histogram('regate_request_duration_seconds', 'Time from request to the end of the response, by route, without the time a held request waited for an approver.', ['route'], LATENCY_BUCKETS);
  readonly holdWait = new Histogram('regate_hold_wait_seconds', 'Time a held request waited for an approver, by route and outcome (approved, denied, timeout, client_gone, failed).', ['route', 'outcome'], HOLD_WAIT_BUCKETS);
  readonly upstreamErrors = new Counter('regate_upstream_errors_total', 'Upstream failures, by upstream and kind.', ['upstream', 'kind']);
  readonly policyEval = new Histogram('regate_policy_eval_seconds', 'Time the policy took to decide one request.', [], EVAL_BUCKETS);
  readonly inflight = new Gauge('regate_inflight_requests', 'Requests being handled now.', []);
  readonly shadowDecisions = new Counter('regate_shadow_decisions_total', 'Shadow policy decisions (policy.shadow), by result: agree, disagree, or dropped (queue full).', ['result']);
  readonly shadowDisagreements = new Counter('regate_shadow_disagreements_total', 'Shadow policy disagreements with the enforced policy, by kind (allow_to_deny, mask_change, ...).', ['kind']);

  /** Every metric's series as plain data (structured-clone safe), for the `--workers` primary. */
  snapshot(): MetricsSnapshot {
    return this.#all().map((m) => m.snapshot());
  }

  /** Adds a worker's snapshot into this instance. */
  absorb(snapshot: MetricsSnapshot): void {
    this.#all().forEach((m, i) => m.absorb((snapshot[i] ?? []) as Array<{ values: string[]; state: unknown }>));
  }

  #all(): Metric<unknown>[] {
    return [this.requests, this.latency, this.holdWait, this.upstreamErrors, this.policyEval, this.inflight, this.shadowDecisions, this.shadowDisagreements] as unknown as Metric<unknown>[];
  }

  render(): string {
    return this.#all().map((m) => m.render()).join('\n') + '\n';
  }
}
