/**
 * One worker of `regate serve --workers N`: the whole request pipeline (identity, policy, masking,
 * forwarding) on the listening port the cluster shares, with the two things that must stay single
 * reached in the primary over IPC: the audit log (an append resolves only once the primary's log
 * has made the record durable, so "recorded before forwarded" holds across the process boundary)
 * and the holds service (waiting clients, approvals). The per-request hold questions (replay owed?
 * grants held?) are answered from this worker's own read handle on the hold store, or on a cluster
 * node from the worker's own view of the cluster store (with its usage counts).
 *
 * The worker ignores SIGTERM/SIGINT: the primary orchestrates shutdown (`stop` over IPC), so a
 * Ctrl-C to the process group still drains in order. If the primary goes away the worker drains
 * and exits.
 */
import cluster from 'node:cluster';
import { eventJson, type AuditEvent } from '../audit/index.js';
import type { GatewayConfig } from '../config/index.js';
import type { WatchStatus } from '../policy/index.js';
import { HoldAuditFailed, HoldLimitExceeded, HoldReader, ReplayUnavailable } from '../hold/index.js';
import { createAuthenticator } from '../identity/index.js';
import type { HoldOutcome, HoldRequest } from '../hold/index.js';
import { Logger, type AuditSink, type HoldsService, type MetricsSnapshot } from '../proxy/index.js';
import { auditScrub } from './audit-scrub.js';
import { workerView } from './cluster-node.js';
import { ClusterUnavailable } from '../cluster-store/index.js';
import { RpcChannel } from './ipc.js';
import { listenOrFail } from './listeners.js';
import { holdsDir, identityOptions, type StartOptions } from './options.js';
import { openPipeline, type Pipeline } from './pipeline.js';

/** What a worker reports to the primary for `/metrics` and `/healthz`. */
export interface WorkerStatus {
  metrics: MetricsSnapshot;
  inflight: number;
  /** The worker's bundle (revision, activation, source errors); null before its pipeline is open. */
  bundle: WatchStatus | null;
}

/**
 * The holds errors the proxy maps to distinct answers (429, 403, 503), rebuilt from their code; on
 * a cluster node a hold the store cannot take is ClusterUnavailable (503 cluster_store_unavailable).
 */
export const HOLD_ERRORS = [HoldLimitExceeded, ReplayUnavailable, HoldAuditFailed, ClusterUnavailable];

/** The arguments of the primary's `audit` call: an event in the log's canonical, scrubbed form. */
export interface AuditCall {
  type: AuditEvent['type'];
  json: string;
}

/** The arguments of the primary's `hold` call. */
export interface HoldCall {
  token: number;
  req: HoldRequest;
}

function remoteHolds(channel: RpcChannel, reader: HoldReader): HoldsService {
  let nextToken = 1;
  return {
    approvalFor: (identity, route, method, path, bodySha256) => reader.approvalFor(identity, route, method, path, bodySha256),
    grantsFor: (identity, route) => reader.grantsFor(identity, route),
    consumeReplay: (holdId, requestId) => channel.call<void>('replay', { holdId, requestId }),
    // Two calls: the hold's id comes back once it exists (the decision record names it), then its outcome.
    open: async (req, signal) => {
      const token = nextToken++;
      const abort = () => channel.cast('hold.abort', token);
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
      try {
        const holdId = await channel.call<string>('hold', { token, req } satisfies HoldCall);
        const outcome = channel.call<HoldOutcome>('hold.wait', token).finally(() => signal.removeEventListener('abort', abort));
        return { holdId, outcome };
      } catch (err) {
        signal.removeEventListener('abort', abort);
        throw err;
      }
    },
  };
}

/** Runs this process as a worker until the primary stops it; exits the process when done. */
export async function runWorker(config: GatewayConfig, opts: StartOptions = {}): Promise<never> {
  const logger = new Logger(opts.log ?? process.stderr, config.logging.level, { worker: cluster.worker?.id ?? 0, pid: process.pid });
  let pipeline: Pipeline | null = null;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await pipeline?.stop();
      authenticator.close();
      await reader?.close();
    })());
  const channel = new RpcChannel(
    process as unknown as ConstructorParameters<typeof RpcChannel>[0],
    {
      stop: () => stop(),
      status: (): WorkerStatus => ({ metrics: pipeline?.gateway.metrics.snapshot() ?? [], inflight: pipeline?.gateway.inflight ?? 0, bundle: pipeline?.bundleStatus() ?? null }),
    },
    HOLD_ERRORS,
  );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => undefined);
  process.once('disconnect', () => {
    channel.close('the primary disconnected');
    void stop().finally(() => process.exit(0));
  });

  // Records are encoded here (canonical JSON, scrubbed), in parallel across workers: the primary
  // only numbers, chains and stores them.
  const audit: AuditSink = {
    append: (event) => {
      let json: string;
      try {
        json = eventJson(event, auditScrub);
      } catch (err) {
        return Promise.reject(err);
      }
      return channel.call<{ seq: number }>('audit', { type: event.type, json } satisfies AuditCall);
    },
  };
  const authenticator = createAuthenticator(identityOptions(config.identity, opts.jwks));
  let reader: HoldReader | null = null;
  try {
    // On a cluster node the hold questions are answered from this worker's own view of the
    // cluster store (cluster-node.ts); alone, from its read handle on the primary's LMDB.
    const view = config.cluster ? await workerView(config, cluster.worker?.id ?? 0, logger) : null;
    reader = view ? new HoldReader(view.index, Date.now, () => view.close()) : HoldReader.open(holdsDir(config));
    pipeline = await openPipeline(config, logger, { audit, holds: remoteHolds(channel, reader), authenticator, sharedUsage: view?.usage });
    const url = await listenOrFail(pipeline.server, 'listen', config.listen);
    await channel.call('ready', { url, revision: pipeline.revision() });
  } catch (err) {
    await channel.call('failed', (err as Error).message).catch(() => undefined);
    process.exit(1);
  }
  return new Promise<never>(() => undefined);
}
