/**
 * Decision logs and status reports (OPA's formats) from the config: started beside the audit log,
 * fed with what the audit log has durably recorded. The audit log is the one place every decision
 * passes, in one process or from every worker over IPC (audit-tap.ts), so the feed is taken there,
 * after the write: a decision-log event never says more than the audit log holds, and carries what
 * the audit log's scrubber left of it.
 */
import type { AuditEvent, AuditLog } from '../audit/index.js';
import type { GatewayConfig } from '../config/index.js';
import { startReporting, type Reporting, type ReportingService } from '../decision-log/index.js';
import { DEFAULT_ENTRYPOINT, type WatchStatus } from '../policy/index.js';
import type { Logger } from '../proxy/index.js';
import { auditScrub } from './audit-scrub.js';
import { tapAppends } from './audit-tap.js';
import { serviceOptions } from './options.js';

function reportingService(s: NonNullable<GatewayConfig['status']>['service']): ReportingService {
  return { url: s.url, resource: s.resource, ...serviceOptions(s) };
}

/** The event types the reporters read: decisions, and bundle changes (a status report each). */
const FED = new Set<string>(['request.decision', 'bundle.loaded', 'bundle.rejected']);

/**
 * Starts the reporters the config asks for (none: undefined) and feeds them every event `audit`
 * durably appends from now on. `bundle` tells the bundle's status when asked.
 */
export async function openReporting(config: GatewayConfig, audit: AuditLog, logger: Logger, bundle: () => WatchStatus | undefined | Promise<WatchStatus | undefined>): Promise<Reporting | undefined> {
  const d = config.decision_logs;
  const s = config.status;
  if (!d && !s) return undefined;
  const reporting = await startReporting({
    ...(d ? {
      decisionLogs: {
        ...reportingService(d.service),
        minDelaySeconds: d.min_delay_seconds,
        maxDelaySeconds: d.max_delay_seconds,
        uploadSizeLimitBytes: d.upload_size_limit_bytes,
        bufferSizeLimitEvents: d.buffer_size_limit_events,
      },
    } : {}),
    ...(s ? { status: { ...reportingService(s.service), intervalSeconds: s.interval_seconds } } : {}),
    labels: config.labels ?? {},
    path: config.policy.entrypoint ?? DEFAULT_ENTRYPOINT,
    scrub: auditScrub,
    bundle,
    onError: (what, err) => logger.log('warn', what === 'status' ? 'status report not delivered' : 'decision logs not uploaded; kept for the next attempt', { error: err.message, code: (err as { code?: string }).code }),
  });
  tapAppends(audit, (type, json, _seconds, failure) => {
    if (failure === undefined && FED.has(type)) reporting.record(JSON.parse(json) as AuditEvent);
  });
  return reporting;
}
