/**
 * Opening the two listeners with a startup error that names which one failed, and what the admin
 * listener reports about an in-process gateway.
 */
import type { Server } from 'node:http';
import type { WatchStatus } from '../policy/index.js';
import type { AuditLog } from '../audit/index.js';
import type { AdminStatus } from '../admin/index.js';
import type { Gateway } from '../proxy/index.js';
import { listen } from '../util/index.js';
import { StartupError } from './errors.js';
import type { OpsMetrics } from './ops-metrics.js';

const LISTENERS = { listen: 'clients', admin: 'the admin listener' } as const;

/** Listens on the `listen` or `admin` address of the config; a failure names the key to change. */
export async function listenOrFail(server: Server, key: keyof typeof LISTENERS, address: { host: string; port: number }): Promise<string> {
  const { host, port } = address;
  try {
    return await listen(server, host, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE' ? `${host}:${port} is already in use by another process (EADDRINUSE); stop that process or set ${key}.port to a free port`
      : code === 'EACCES' ? `port ${port} needs privileges this process lacks (EACCES); set ${key}.port to 1024 or above`
      : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' ? `${host} is not an address of this machine (${code}); set ${key}.host to one (127.0.0.1, 0.0.0.0)`
      : `${host}:${port}: ${code ?? (err as Error).message}`;
    throw new StartupError(`cannot listen for ${LISTENERS[key]}: ${why}`, { cause: err });
  }
}

/**
 * The status of one in-process gateway, its bundle and the operator's metrics; `audit` adds the audit
 * log's lines (witness lag); `unhealthy` says why the audit log refuses appends (full, unwritable), if it does.
 */
export function gatewayStatus(gateway: Gateway, bundle: () => WatchStatus, ops: OpsMetrics, audit: () => string = () => '', unhealthy: () => string | null = () => null): AdminStatus {
  return { metricsText: async () => gateway.metrics.render() + (await ops.render()) + audit(), inflight: () => gateway.inflight, bundles: () => [bundle()], unhealthy };
}
