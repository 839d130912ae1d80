/**
 * The client listener: serves clients through the pipeline, with the header and body timeouts
 * that stop slow clients. Shutting down drains: stop accepting, let in-flight exchanges finish
 * (keep-alive sockets are closed as they go idle), then cut what is left after the grace period.
 */
import { createServer, type Server } from 'node:http';
import type { Gateway } from './gateway.js';

export interface GatewayServerLimits {
  /** Time to receive the request line and headers (slowloris headers). */
  headersTimeoutMs: number;
  /** Time to receive the whole request, body included (slowloris bodies); 0 disables. */
  requestTimeoutMs: number;
  maxHeaderBytes: number;
}

export function createGatewayServer(gateway: Gateway, limits: GatewayServerLimits): Server {
  const server = createServer(
    {
      keepAliveTimeout: 5_000,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often Node looks for connections past those timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    gateway.handle,
  );
  server.on('clientError', gateway.clientError);
  return server;
}

/** Stops accepting, waits for in-flight exchanges up to `graceMs`, then closes what is left. */
export async function drainServer(server: Server, gateway: Gateway, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([gateway.drain(), grace]);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
}
