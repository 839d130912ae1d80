/**
 * Assembles a running gateway from a validated config: the singletons (audit log, holds, admin
 * mounts), the pipeline and the two listeners. `regate serve` and `regate demo` both start here,
 * so the demo runs exactly the code operators run.
 */
import { createAdminServer } from '../admin/index.js';
import type { GatewayConfig } from '../config/index.js';
import { Logger, type Gateway } from '../proxy/index.js';
import { closeServer, VERSION } from '../util/index.js';
import { gatewayStatus, listenOrFail } from './listeners.js';
import { adminOptions, type StartOptions } from './options.js';
import { openPipeline, type Pipeline } from './pipeline.js';
import { openSingletons, recordStart } from './singletons.js';

export interface RunningGateway {
  url: string;
  adminUrl: string;
  gateway: Gateway;
  logger: Logger;
  /** Stops accepting, finishes in-flight requests (up to `drain_seconds`), then releases everything. */
  stop(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const logger = new Logger(opts.log ?? process.stderr, config.logging.level);
  const shared = await openSingletons(config, logger, opts);
  let pipeline: Pipeline;
  try {
    pipeline = await openPipeline(config, logger, { ...shared, sharedUsage: shared.cluster?.usage });
  } catch (err) {
    await shared.close(false);
    throw err;
  }
  const { gateway, server } = pipeline;
  shared.bundlesFrom(() => [pipeline.bundleStatus()]);
  const admin = createAdminServer(gatewayStatus(gateway, pipeline.bundleStatus, shared.ops, shared.auditMetrics, () => shared.audit.refusing()), shared.mounts, adminOptions(config, shared.authenticator));
  let url: string;
  let adminUrl: string;
  try {
    url = await listenOrFail(server, 'listen', config.listen);
    adminUrl = await listenOrFail(admin, 'admin', config.admin);
  } catch (err) {
    await Promise.all([closeServer(server), closeServer(admin)]);
    await pipeline.stop();
    await shared.close(false);
    throw err;
  }
  await recordStart(shared.audit, logger);
  shared.cluster?.announce({ listen_url: url, admin_url: adminUrl, version: VERSION });
  logger.log('info', 'gateway started', { url, admin_url: adminUrl, policy_revision: pipeline.revision(), ...(shared.cluster ? { cluster_node: shared.cluster.nodeId } : {}) });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await pipeline.stop();
      await closeServer(admin);
      await shared.close(true);
      logger.log('info', 'gateway stopped', { url });
    })());
  return { url, adminUrl, gateway, logger, stop };
}
