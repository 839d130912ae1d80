/**
 * Decision logs and status reports in OPA's formats, for the tools a security team already points
 * at OPA (decision-log receivers, status dashboards). The gateway hands every `request.decision`
 * record it audits to `record`; the events are masked as the audit log masks, batched, gzipped and
 * POSTed to the configured service. Status reports follow the bundle's revision and errors.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../audit/index.js';
import type { WatchStatus } from '../policy/index.js';
import { httpService, type HttpService, type ServiceOptions } from '../util/index.js';
import { VERSION } from '../util/index.js';
import { opaEvent } from './event.js';
import { StatusReporter } from './status.js';
import { DecisionLogUploader, type UploaderStats } from './uploader.js';

export { opaEvent, type EventContext, type OpaDecisionEvent } from './event.js';
export { DecisionLogUploader, type UploaderOptions, type UploaderStats } from './uploader.js';
export { StatusReporter, statusReport, type StatusOptions, type StatusSource } from './status.js';
export { DecisionLogUploadError, StatusReportError } from './errors.js';

export interface ReportingService extends ServiceOptions {
  /** The service's base URL; the resource is appended. */
  url: string;
  /** Path under `url` (OPA's `resource`): `/logs` for decision logs, `/status` for status. */
  resource: string;
}

export interface ReportingOptions {
  decisionLogs?: ReportingService & { minDelaySeconds: number; maxDelaySeconds: number; uploadSizeLimitBytes: number; bufferSizeLimitEvents: number };
  status?: ReportingService & { intervalSeconds: number };
  /** Extra labels; `id` (this process) and `version` (regate's) are always set. */
  labels: Record<string, string>;
  /** The policy entrypoint (the events' `path`). */
  path: string;
  scrub: (s: string) => string;
  bundle: () => WatchStatus | undefined | Promise<WatchStatus | undefined>;
  onError: (what: 'decision_logs' | 'status', err: Error) => void;
}

export interface Reporting {
  /**
   * Hands an event over once the audit log holds it: a policy decision becomes a decision-log
   * event; a bundle activation or refusal sends a status report.
   */
  record(event: AuditEvent): void;
  /** Sends a status report now (the bundle's source has just become known); resolves once sent or failed. */
  reportStatus(): Promise<void>;
  decisionLogStats(): UploaderStats | undefined;
  /** Uploads what is buffered, sends a last status report, releases the connections. */
  close(): Promise<void>;
}

/** regate names its one bundle as OPA's `bundles` key. */
const BUNDLE_NAME = 'regate';

const join = (url: string, resource: string) => `${url.replace(/\/+$/, '')}/${resource.replace(/^\/+/, '')}`;

/** Starts the configured reporters (either may be absent). */
export async function startReporting(o: ReportingOptions): Promise<Reporting> {
  const labels = { ...o.labels, id: randomUUID(), version: VERSION };
  const services: HttpService[] = [];
  let uploader: DecisionLogUploader | undefined;
  let status: StatusReporter | undefined;
  if (o.decisionLogs) {
    const d = o.decisionLogs;
    const service = await httpService(d, 'decision_logs.service');
    services.push(service);
    uploader = new DecisionLogUploader({ ...d, url: join(d.url, d.resource), service, onError: (err) => o.onError('decision_logs', err) });
  }
  if (o.status) {
    const s = o.status;
    const service = await httpService(s, 'status.service');
    services.push(service);
    status = new StatusReporter({
      url: join(s.url, s.resource), service, labels, bundleName: BUNDLE_NAME, intervalSeconds: s.intervalSeconds,
      source: { bundle: o.bundle, decisionLogs: () => uploader?.stats() },
      onError: (err) => o.onError('status', err),
    });
  }
  const ctx = { labels, bundleName: BUNDLE_NAME, path: o.path, scrub: o.scrub };
  return {
    record(event) {
      if (event.type === 'bundle.loaded' || event.type === 'bundle.rejected') return void status?.send();
      if (!uploader || event.type !== 'request.decision') return;
      const e = opaEvent(event, ctx, new Date());
      if (e) uploader.push(e);
    },
    reportStatus: async () => status?.send(),
    decisionLogStats: () => uploader?.stats(),
    async close() {
      await uploader?.close();
      await status?.send();
      await status?.close();
      await Promise.all(services.map((s) => s.close()));
    },
  };
}
