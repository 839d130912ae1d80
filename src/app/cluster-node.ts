/**
 * Joins this gateway to a cluster when the config has `cluster.postgres` (docs/cluster.md): opens
 * the cluster store (refusing an unmigrated or newer schema), the hold backend on it (with this
 * node's view kept current by the change feed), the batched usage counters, and a heartbeat that
 * publishes what `regate cluster status` shows. Without `cluster`, none of this runs and the node
 * is the single-node gateway on LMDB.
 *
 * The store is also this node's audit archive (`archive()`: the archiver in singletons.ts drives it
 * as it drives the folder archive on a single node). Degradations are logged as warnings once per
 * outage, not per request: usage counts falling back to local counts, the heartbeat not reaching
 * the store.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { GatewayConfig } from '../config/index.js';
import type { ArchiverStats, TrustedKey } from '../audit/index.js';
import { ClusterHoldBackend, ClusterStore, ClusterUsage, PostgresArchive, type NodeReport } from '../cluster-store/index.js';
import type { HoldIndex } from '../hold/index.js';
import type { Logger } from '../proxy/index.js';

export interface ClusterNode {
  nodeId: string;
  store: ClusterStore;
  holds: ClusterHoldBackend;
  usage: ClusterUsage;
  /** The store as the archive of this node's log `origin`, signed by `keys` (it witnesses each checkpoint). */
  archive(origin: string, keys: readonly TrustedKey[]): PostgresArchive;
  /** Where the heartbeat reads the archive's backlog (`cluster status`). */
  reportArchive(stats: () => ArchiverStats): void;
  /** Starts the heartbeat once the listeners' addresses are known. */
  announce(urls: { listen_url: string; admin_url: string; version: string }): void;
  close(): Promise<void>;
}

/** `cluster.node_id`, else the host name and a digest of the state folder (stable across restarts, distinct per node on one host). */
export function nodeIdOf(config: GatewayConfig): string {
  return config.cluster?.node_id ?? `${hostname()}-${createHash('sha256').update(config.state_dir).digest('hex').slice(0, 8)}`;
}

export async function joinCluster(config: GatewayConfig, logger: Logger): Promise<ClusterNode | null> {
  const cluster = config.cluster;
  if (!cluster) return null;
  const nodeId = nodeIdOf(config);
  const { store, holds, usage, feed } = await openParts(config, nodeId, cluster.postgres.pool_size, logger, 'node');
  const started = Date.now();
  let timer: NodeJS.Timeout | null = null;
  let beatDown = false;
  let urls: { listen_url: string; admin_url: string; version: string } | null = null;
  let archive: { origin: string; stats: () => ArchiverStats | null } = { origin: '', stats: () => null };
  const beat = async (): Promise<void> => {
    if (!urls) return;
    if (holds.feed.lastOkMs > 0) feed.down = false;
    const report: NodeReport = {
      ...urls, view_seq: holds.feed.seq, listening: holds.feed.listening, usage_degraded: usage.degraded,
      audit_backlog: archive.stats()?.pending ?? 0, audit_origin: archive.origin || null, heartbeat_seconds: cluster.heartbeat_seconds,
    };
    try {
      await store.heartbeat(started, Date.now(), report as unknown as Record<string, unknown>);
      if (beatDown) logger.log('info', 'the cluster store is reachable again', { node: nodeId });
      beatDown = false;
    } catch (err) {
      if (!beatDown) logger.log('warn', 'cannot record this node\'s heartbeat in the cluster store', { node: nodeId, error: (err as Error).message });
      beatDown = true;
    }
  };
  return {
    nodeId,
    store,
    holds,
    usage,
    archive: (origin, keys) => {
      archive = { ...archive, origin };
      return new PostgresArchive(store.pool, { origin, node: nodeId, keys, target: store.target });
    },
    reportArchive: (stats) => {
      archive = { ...archive, stats };
    },
    announce: (u) => {
      urls = u;
      void beat();
      timer = setInterval(() => void beat(), cluster.heartbeat_seconds * 1000);
      timer.unref();
    },
    close: async () => {
      if (timer) clearInterval(timer);
      await usage.close();
      await holds.close();
      await store.close();
    },
  };
}

/** What a `--workers` worker of a cluster node holds of the cluster (workerView). */
export interface WorkerClusterView {
  /** This worker's view of the live holds and grants, for the per-request questions. */
  index: HoldIndex;
  /** Cluster-wide usage counts: this worker's own, flushed as a counting unit of its own. */
  usage: ClusterUsage;
  close(): Promise<void>;
}

/**
 * A worker's own part of a cluster node: a small pool of its own, the change feed and view (so
 * "is a replay owed?" and "which grants apply?" stay map lookups in the worker, with no IPC or
 * round trip per request), and usage counts flushed under `<node id>/w<worker id>`, so the
 * cluster's sums, and this worker's "other nodes", include its sibling workers. Holds, approvals,
 * replay claims, the audit log, its archive and the heartbeat stay with the primary.
 */
export async function workerView(config: GatewayConfig, workerId: number, logger: Logger): Promise<WorkerClusterView> {
  // Two connections: the feed's reads and the usage flush never need more at once.
  const { store, holds, usage } = await openParts(config, `${nodeIdOf(config)}/w${workerId}`, 2, logger, 'worker');
  return {
    index: holds.index,
    usage,
    close: async () => {
      await usage.close();
      await holds.close();
      await store.close();
    },
  };
}

/**
 * The store (as counting unit `unit`, with `poolSize` connections), the hold backend whose feed
 * warns once per outage (`feed.down` is cleared by whoever sees it read again), and usage counts.
 */
async function openParts(config: GatewayConfig, unit: string, poolSize: number, logger: Logger, who: 'node' | 'worker') {
  const cluster = config.cluster!;
  const store = await ClusterStore.open({ ...cluster.postgres, pool_size: poolSize }, unit);
  const feed = { down: false };
  const holds = await ClusterHoldBackend.open(store, cluster.postgres, {
    onError: (err) => {
      if (feed.down) return;
      feed.down = true;
      logger.log('warn', `cannot read hold changes from the cluster store; this ${who} keeps polling`, { error: err.message });
    },
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const usage = new ClusterUsage(store, { periodMs: cluster.usage_sync_ms, onWarning: (message) => logger.log('warn', message, { node: unit }) });
  return { store, holds, usage, feed };
}
