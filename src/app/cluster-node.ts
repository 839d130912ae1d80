/**
 * Joins this gateway to a cluster when the config has `cluster.postgres` (docs/cluster.md): opens
 * the cluster store (refusing an unmigrated or newer schema), the hold backend on it (with this
 * node's view kept current by the change feed), the batched usage counters, and a heartbeat that
 * publishes what `regate cluster status` shows. Without `cluster`, none of this runs and the node
 * is the single-node gateway on LMDB.
 *
 * It also publishes the node's audit log to the store's archive (publisher.ts). Degradations are logged as warnings once per outage, not per request: usage counts falling back
 * to local counts, the heartbeat not reaching the store.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { GatewayConfig } from '../config/index.js';
import type { AuditLog } from '../audit/index.js';
import { AuditPublisher, ClusterHoldBackend, ClusterStore, ClusterUsage, type NodeReport } from '../cluster-store/index.js';
import type { Logger } from '../proxy/index.js';

export interface ClusterNode {
  nodeId: string;
  store: ClusterStore;
  holds: ClusterHoldBackend;
  usage: ClusterUsage;
  /** Publishes `log`'s sealed segments and checkpoints to the archive (the store witnesses them). */
  publish(log: AuditLog): void;
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
  const store = await ClusterStore.open(cluster.postgres, nodeId);
  let feedDown = false;
  const holds = await ClusterHoldBackend.open(store, cluster.postgres, {
    onError: (err) => {
      if (feedDown) return;
      feedDown = true;
      logger.log('warn', 'cannot read hold changes from the cluster store; this node keeps polling', { error: err.message });
    },
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const usage = new ClusterUsage(store, {
    periodMs: cluster.usage_sync_ms,
    onWarning: (message) => logger.log('warn', message, { node: nodeId }),
  });
  const started = Date.now();
  let timer: NodeJS.Timeout | null = null;
  let beatDown = false;
  let urls: { listen_url: string; admin_url: string; version: string } | null = null;
  let publisher: AuditPublisher | null = null;
  const beat = async (): Promise<void> => {
    if (!urls) return;
    if (holds.feed.lastOkMs > 0) feedDown = false;
    const report: NodeReport = {
      ...urls, view_seq: holds.feed.seq, listening: holds.feed.listening, usage_degraded: usage.degraded,
      audit_backlog: publisher?.backlog ?? 0, audit_origin: publisher?.origin ?? null, heartbeat_seconds: cluster.heartbeat_seconds,
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
    publish: (log) => {
      publisher = new AuditPublisher(store, log, { onWarning: (message) => logger.log('warn', message, { node: nodeId }) });
    },
    announce: (u) => {
      urls = u;
      void beat();
      timer = setInterval(() => void beat(), cluster.heartbeat_seconds * 1000);
      timer.unref();
    },
    close: async () => {
      if (timer) clearInterval(timer);
      await publisher?.close();
      await usage.close();
      await holds.close();
      await store.close();
    },
  };
}
