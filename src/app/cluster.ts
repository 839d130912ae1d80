/**
 * The primary of `regate serve --workers N` (node:cluster). Workers share the client port and run
 * the pipeline; the primary holds what must be single — the audit log (one writer holding the
 * writer lock, so one numbered, chained, verifiable sequence), the holds service and the admin
 * listener — and answers the workers' calls over IPC (ipc.ts). A worker that dies is
 * replaced. Stopping drains every worker (each finishes its in-flight requests and their outcome
 * records), then records `gateway.stop` and seals and closes the log.
 *
 * Per-identity usage counts (`usage.requests_last_minute`) and the token cache stay per worker:
 * see docs/config.md (`workers`) for what that means for the bulk-extraction rule. On a cluster
 * node (`cluster.postgres`) each worker keeps its own view of the cluster store and flushes its
 * usage counts as a unit of its own, so the counts are cluster-wide there (docs/cluster.md); the
 * primary holds the holds service, the audit log with its archive, and the heartbeat.
 */
import cluster, { type Worker } from 'node:cluster';
import type { GatewayConfig } from '../config/index.js';
import { createAdminServer, type AdminStatus } from '../admin/index.js';
import { GatewayMetrics, Logger } from '../proxy/index.js';
import { closeServer, VERSION } from '../util/index.js';
import { StartupError } from './errors.js';
import { RpcChannel } from './ipc.js';
import { listenOrFail } from './listeners.js';
import { adminOptions, type StartOptions } from './options.js';
import { openSingletons, recordStart, type Singletons } from './singletons.js';
import type { AuditCall, HoldCall, WorkerStatus } from './worker.js';

export interface RunningCluster {
  url: string;
  adminUrl: string;
  /** Worker process ids now serving. */
  pids(): number[];
  stop(): Promise<void>;
}

/** A replacement for a worker that died this soon after starting waits a while first, so a crash loop does not spin. */
const EARLY_DEATH_MS = 5_000;
const RESTART_DELAY_MS = 1_000;

interface Member {
  worker: Worker;
  channel: RpcChannel;
  started: number;
  /** Aborts for this worker's clients waiting on holds, by the worker's token. */
  holds: Map<number, AbortController>;
  /** Outcomes of this worker's open holds, until the worker asks for them ('hold.wait'). */
  outcomes: Map<number, Promise<unknown>>;
}

function workerHandlers(shared: Singletons, m: () => Member, events: { ready(url: string): void; failed(message: string): void }) {
  return {
    audit: ({ type, json }: AuditCall) => shared.audit.appendCanonical(type, json),
    hold: async ({ token, req }: HoldCall) => {
      const abort = new AbortController();
      m().holds.set(token, abort);
      try {
        const opened = await shared.holds.open(req, abort.signal);
        m().outcomes.set(token, opened.outcome.finally(() => m().holds.delete(token)));
        return opened.holdId;
      } catch (err) {
        m().holds.delete(token);
        throw err;
      }
    },
    // The worker asks for the outcome right after the id came back.
    'hold.wait': (token: number) => {
      const outcome = m().outcomes.get(token);
      m().outcomes.delete(token);
      return outcome ?? Promise.reject(new Error(`no hold is open under token ${token}`));
    },
    'hold.abort': (token: number) => m().holds.get(token)?.abort(),
    replay: ({ holdId, requestId }: { holdId: string; requestId: string }) => shared.holds.consumeReplay(holdId, requestId),
    ready: ({ url }: { url: string }) => events.ready(url),
    failed: (message: string) => events.failed(message),
  } as Record<string, (arg: never) => unknown> as Record<string, (arg: unknown) => unknown>;
}

export async function startCluster(config: GatewayConfig, workers: number, opts: StartOptions = {}): Promise<RunningCluster> {
  const logger = new Logger(opts.log ?? process.stderr, config.logging.level, { worker: 'primary', pid: process.pid });
  const shared = await openSingletons(config, logger, opts);
  const members = new Map<number, Member>();
  let stopping = false;
  let url = '';

  const workerStatuses = () => Promise.all([...members.values()].map((m) => m.channel.call<WorkerStatus>('status', null).catch(() => null)));
  const workerBundles = async () => (await workerStatuses()).flatMap((s) => (s?.bundle ? [s.bundle] : []));
  const status: AdminStatus = {
    metricsText: async () => {
      const sum = new GatewayMetrics();
      for (const s of await workerStatuses()) if (s) sum.absorb(s.metrics);
      return sum.render() + (await shared.ops.render()) + shared.auditMetrics();
    },
    inflight: async () => (await workerStatuses()).reduce((n, s) => n + (s?.inflight ?? 0), 0),
    bundles: workerBundles,
    unhealthy: () => shared.audit.refusing(),
  };
  shared.bundlesFrom(workerBundles);
  const admin = createAdminServer(status, shared.mounts, adminOptions(config, shared.authenticator));

  cluster.setupPrimary({ serialization: 'advanced' });

  /** Forks one worker; resolves with its URL once it listens, rejects if it fails or dies first. */
  const fork = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      let failure = '';
      const member: Member = {
        worker,
        started: Date.now(),
        holds: new Map(),
        outcomes: new Map(),
        channel: new RpcChannel(
          worker,
          workerHandlers(shared, () => member, {
            ready: (u) => {
              logger.log('info', 'worker ready', { worker_id: worker.id, worker_pid: worker.process.pid ?? null });
              resolve(u);
            },
            failed: (message) => (failure = message),
          }),
        ),
      };
      members.set(worker.id, member);
      worker.once('exit', (code, signal) => {
        members.delete(worker.id);
        member.channel.close(`worker ${worker.id} exited`);
        for (const a of member.holds.values()) a.abort();
        reject(new StartupError(`worker ${worker.id} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}) before listening${failure ? `: ${failure}` : ''}`));
        if (stopping || !url) return;
        logger.log('error', 'worker died; starting a replacement', { dead_worker: worker.id, dead_pid: worker.process.pid ?? null, code, signal });
        const delay = Date.now() - member.started < EARLY_DEATH_MS ? RESTART_DELAY_MS : 0;
        setTimeout(() => {
          if (!stopping) fork().catch((err: unknown) => logger.log('error', 'replacement worker failed to start', { error: (err as Error).message }));
        }, delay).unref();
      });
    });

  /** Stops every worker: each drains and answers, then is disconnected and exits. */
  const stopWorkers = () =>
    Promise.all(
      [...members.values()].map(async ({ worker, channel }) => {
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        if (worker.isDead()) return;
        const kill = setTimeout(() => worker.process.kill('SIGKILL'), (config.drain_seconds + 10) * 1000);
        await channel.call('stop', null).catch(() => undefined);
        if (worker.isConnected()) worker.disconnect();
        await exited;
        clearTimeout(kill);
      }),
    );

  let adminUrl: string;
  try {
    const urls = await Promise.all(Array.from({ length: workers }, fork));
    url = urls[0]!;
    adminUrl = await listenOrFail(admin, 'admin', config.admin);
  } catch (err) {
    stopping = true;
    await stopWorkers();
    await closeServer(admin);
    await shared.close(false);
    throw err;
  }
  await recordStart(shared.audit, logger);
  shared.cluster?.announce({ listen_url: url, admin_url: adminUrl, version: VERSION });
  logger.log('info', 'gateway started', { url, admin_url: adminUrl, workers, ...(shared.cluster ? { cluster_node: shared.cluster.nodeId } : {}) });

  let stopped: Promise<void> | null = null;
  return {
    url,
    adminUrl,
    pids: () => [...members.values()].map((m) => m.worker.process.pid!),
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        await stopWorkers();
        await closeServer(admin);
        await shared.close(true);
        logger.log('info', 'gateway stopped', { url });
      })()),
  };
}
