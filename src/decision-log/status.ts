/**
 * Status reports as OPA's status plugin sends them (`POST /status`, JSON): the instance's labels,
 * the bundle's active revision with its last request, download and activation times and, when the
 * last attempt failed, the error; the decision-log upload state; plugin states; counters. Sent when
 * the bundle changes or fails and every `interval` seconds; a report that fails is not queued (the
 * next one carries the then-current state).
 */
import type { WatchStatus } from '../policy/index.js';
import { statusMeaning, type HttpService } from '../util/index.js';
import { StatusReportError } from './errors.js';
import type { UploaderStats } from './uploader.js';

export interface StatusSource {
  /** The bundle's status; undefined while no process can tell (workers starting). */
  bundle(): WatchStatus | undefined | Promise<WatchStatus | undefined>;
  decisionLogs(): UploaderStats | undefined;
}

export interface StatusOptions {
  url: string;
  service: HttpService;
  labels: Record<string, string>;
  bundleName: string;
  intervalSeconds: number;
  source: StatusSource;
  onError?: (err: Error) => void;
}

const iso = (d: Date | undefined) => d?.toISOString();

/** The status document OPA's status API receives. */
export function statusReport(labels: Record<string, string>, bundleName: string, bundle: WatchStatus | undefined, logs: UploaderStats | undefined): Record<string, unknown> {
  const failing = bundle !== undefined && bundle.failures > 0 && bundle.lastError !== undefined;
  const plugins: Record<string, { state: string }> = { bundle: { state: bundle === undefined ? 'NOT_READY' : failing ? 'ERROR' : 'OK' }, status: { state: 'OK' } };
  const report: Record<string, unknown> = { labels, bundles: {}, plugins };
  if (bundle) {
    report.bundles = {
      [bundleName]: {
        name: bundleName,
        active_revision: bundle.revision,
        last_request: iso(bundle.lastRequest),
        last_successful_request: iso(bundle.lastSuccessfulRequest),
        last_successful_download: iso(bundle.lastSuccessfulDownload),
        last_successful_activation: iso(bundle.activatedAt),
        ...(failing ? { code: 'bundle_error', message: bundle.lastError!.message } : {}),
      },
    };
  }
  if (logs) {
    plugins.decision_logs = { state: logs.lastError && logs.failures > 0 && logs.buffered > 0 ? 'ERROR' : 'OK' };
    if (plugins.decision_logs.state === 'ERROR') report.decision_logs = { code: 'decision_log_error', message: logs.lastError };
    report.metrics = { prometheus: { counter_decision_logs_dropped_buffer_size_limit_exceeded: logs.droppedEvents } };
  }
  return report;
}

export class StatusReporter {
  readonly #o: StatusOptions;
  readonly #timer: NodeJS.Timeout;
  #chain: Promise<void> = Promise.resolve();

  constructor(opts: StatusOptions) {
    this.#o = opts;
    this.#timer = setInterval(() => void this.send(), opts.intervalSeconds * 1000);
    this.#timer.unref();
  }

  /** Sends the current status (after any report still in flight). */
  send(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#post().catch((err: Error) => this.#o.onError?.(err)));
    return this.#chain;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#chain;
  }

  async #post(): Promise<void> {
    const { url, service, labels, bundleName, source } = this.#o;
    const body = JSON.stringify(statusReport(labels, bundleName, await source.bundle(), source.decisionLogs()));
    let status: number;
    try {
      const res = await service.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      status = res.status;
      await res.body?.cancel();
    } catch (err) {
      throw new StatusReportError(`cannot send the status report to ${url}: ${service.describe(err)}`, { cause: err });
    }
    if (status < 200 || status > 299) throw new StatusReportError(`the status service ${url} answered HTTP ${status}${statusMeaning(status, 'status.service')}`);
  }
}
