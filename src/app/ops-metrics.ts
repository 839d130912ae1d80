/**
 * The operator's metrics beside the pipeline's (proxy/metrics.ts): the process and Node runtime
 * (`process_*`, `nodejs_*`, prom-client's default collectors), `regate_build_info`, the bundle
 * (revision, activation time, loads and refusals, source failures), the identity provider's key-set
 * loads, the audit log's append latency and failures, and pending holds. They belong to the process
 * that holds the audit log, the holds and the admin listener; with `--workers` that is the primary
 * (so `process_*` describe the primary, and the key-set loads are the primary's authenticator's).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Archiver, AuditLog } from '../audit/index.js';
import type { HoldService } from '../hold/index.js';
import type { Authenticator } from '../identity/index.js';
import type { WatchStatus } from '../policy/index.js';
import { VERSION } from '../util/index.js';
import { tapAppends } from './audit-tap.js';

export interface OpsSources {
  audit: AuditLog;
  holds: HoldService;
  authenticator: Authenticator;
  /** Set when `audit.archive` is configured. */
  archiver?: Archiver | null;
}

export class OpsMetrics {
  readonly registry = new Registry();
  #bundles: () => WatchStatus[] | Promise<WatchStatus[]> = () => [];

  constructor(src: OpsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'regate_build_info', help: 'regate\'s version and the Node.js running it (always 1).', labelNames: ['version', 'node_version'], registers }).set({ version: VERSION, node_version: process.version }, 1);

    const bundles = () => this.#bundles();
    new Gauge({
      name: 'regate_bundle_info', help: 'The policy bundle each serving process runs (always 1), by revision and origin (source, or the persisted copy).', labelNames: ['revision', 'origin'], registers,
      async collect() {
        this.reset();
        for (const b of await bundles()) this.set({ revision: b.revision, origin: b.origin }, 1);
      },
    });
    new Gauge({
      name: 'regate_bundle_activation_timestamp_seconds', help: 'When the running bundle was activated (Unix seconds; the latest over the serving processes).', registers,
      async collect() {
        const all = await bundles();
        if (all.length) this.set(Math.max(...all.map((b) => b.activatedAt.getTime())) / 1000);
      },
    });
    new Gauge({
      name: 'regate_bundle_source_failures', help: 'Consecutive failed attempts to get a new bundle from its source (0 when the last one succeeded; the most over the serving processes).', registers,
      async collect() {
        this.set(Math.max(0, ...(await bundles()).map((b) => b.failures)));
      },
    });
    const loads = new Counter({ name: 'regate_bundle_loads_total', help: 'Bundles loaded and refused (each audited as bundle.loaded or bundle.rejected), over all serving processes.', labelNames: ['result'], registers });

    new Counter({
      name: 'regate_jwks_loads_total', help: 'Key-set loads from the identity provider, by result (ok, failed).', labelNames: ['result'], registers,
      collect() {
        const s = src.authenticator.stats();
        this.reset();
        this.inc({ result: 'ok' }, s.jwksLoads - s.jwksLoadFailures);
        this.inc({ result: 'failed' }, s.jwksLoadFailures);
      },
    });
    new Gauge({ name: 'regate_holds_pending', help: 'Held requests waiting for an approver now.', registers, collect() { this.set(src.holds.pendingCount()); } });

    const append = new Histogram({
      name: 'regate_audit_append_seconds', help: 'Time for one audit record to become durable (the wait every decision has before it is enforced).', registers,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    });
    const failures = new Counter({ name: 'regate_audit_append_failures_total', help: 'Audit records that could not be written (the request they belong to is refused), by event type.', labelNames: ['type'], registers });
    new Gauge({ name: 'regate_audit_store_bytes', help: 'Bytes the live audit store\'s data occupies (pages in use).', registers, collect() { this.set(src.audit.fill().usedBytes); } });
    new Gauge({ name: 'regate_audit_store_max_bytes', help: 'The most the live audit store may occupy (audit.max_size_bytes); at it, requests are refused with 503.', registers, collect() { this.set(src.audit.fill().capBytes); } });
    new Gauge({ name: 'regate_audit_store_fill_ratio', help: 'How full the live audit store is (0..1); a warning record and log line at 0.8 and 0.9.', registers, collect() { const f = src.audit.fill(); this.set(f.usedBytes / f.capBytes); } });
    const archiver = src.archiver;
    if (archiver) {
      new Gauge({ name: 'regate_audit_archive_pending_segments', help: 'Sealed segments not yet in the archive (they wait, in order, while archive writes fail).', registers, collect() { this.set(archiver.stats().pending); } });
      new Gauge({ name: 'regate_audit_archived_through_segment', help: 'The newest segment the archive holds (all before it too).', registers, collect() { this.set(archiver.stats().archived_through); } });
      new Gauge({ name: 'regate_audit_pruned_through_segment', help: 'The newest segment pruned from the live store after its archived copy was read back.', registers, collect() { this.set(archiver.stats().pruned_through); } });
      new Gauge({ name: 'regate_audit_archive_failing', help: 'Archive writes that failed in a row now (0 when the last one succeeded).', registers, collect() { this.set(archiver.stats().failing); } });
      new Counter({ name: 'regate_audit_archive_failures_total', help: 'Archive writes that failed (each is retried with backoff).', registers, collect() { this.reset(); this.inc(archiver.stats().failures); } });
      new Counter({ name: 'regate_audit_segments_expired_total', help: 'Archived segments deleted under audit.retain_archive_days (each noted in a segment.expired record).', registers, collect() { this.reset(); this.inc(archiver.stats().segments_expired); } });
    }
    tapAppends(src.audit, (type, _json, seconds, failure) => {
      if (failure !== undefined) return void failures.inc({ type });
      append.observe(seconds);
      if (type === 'bundle.loaded') loads.inc({ result: 'loaded' });
      else if (type === 'bundle.rejected') loads.inc({ result: 'rejected' });
    });
  }

  /** Where the bundle gauges read the serving processes' bundles. */
  bundlesFrom(source: () => WatchStatus[] | Promise<WatchStatus[]>): void {
    this.#bundles = source;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
