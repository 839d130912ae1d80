/**
 * The request pipeline and its client listener (not yet listening), over the audit log and holds
 * it is given: one process's or one worker's.
 */
import type { Server } from 'node:http';
import type { GatewayConfig } from '../config/index.js';
import type { WatchStatus } from '../policy/index.js';
import { createGatewayServer, drainServer, Gateway, type AuditSink, type AuthenticatorService, type HoldsService, type Logger, type SharedUsage } from '../proxy/index.js';
import { gatewayOptions, serverLimits } from './options.js';
import { watchPolicy } from './policy-watch.js';
import { watchShadow } from './what-if.js';

export interface Pipeline {
  gateway: Gateway;
  server: Server;
  revision(): string;
  /** The bundle's revision, activation time, origin and latest source failure. */
  bundleStatus(): WatchStatus;
  /** Drains the listener (up to `drain_seconds`), then closes the gateway and the policy watchers. */
  stop(): Promise<void>;
}

export async function openPipeline(
  config: GatewayConfig,
  logger: Logger,
  services: { audit: AuditSink; holds: HoldsService; authenticator: AuthenticatorService; sharedUsage?: SharedUsage },
): Promise<Pipeline> {
  const { policy, watcher } = await watchPolicy(config, services.audit, logger);
  const shadow = await watchShadow(config, services.audit, logger).catch(async (err: unknown) => {
    await watcher.close();
    throw err;
  });
  const gateway = new Gateway(
    { authenticator: services.authenticator, audit: services.audit, policy, holds: services.holds, logger, sharedUsage: services.sharedUsage, ...(shadow ? { shadow: { current: () => shadow.current() } } : {}) },
    gatewayOptions(config),
  );
  const server = createGatewayServer(gateway, serverLimits(config));
  return {
    gateway,
    server,
    revision: () => policy.current().revision,
    bundleStatus: () => watcher.status(),
    stop: async () => {
      await drainServer(server, gateway, config.drain_seconds * 1000);
      await gateway.close();
      await watcher.close();
      await shadow?.close();
    },
  };
}
