/**
 * The two listeners. The gateway listener serves clients through the pipeline; the admin listener
 * (loopback by default) serves operators and approvers: `/metrics`, `/healthz`, and whatever the
 * stages mount (the dev IdP's JWKS, the holds console and API). Shutting down drains: stop
 * accepting, let in-flight exchanges finish (keep-alive sockets are closed as they go idle), then
 * cut what is left after the grace period.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from './gateway.js';

/** What the admin listener reports: one gateway's, or (with `--workers`) the sum over the workers. */
export interface AdminStatus {
  metricsText(): string | Promise<string>;
  inflight(): number | Promise<number>;
}

/** The status of one in-process gateway. */
export function gatewayStatus(gateway: Gateway): AdminStatus {
  return { metricsText: () => gateway.metrics.render(), inflight: () => gateway.inflight };
}

/** Answers a request and returns true, or returns false to let the next mount try. */
export type AdminMount = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function createGatewayServer(gateway: Gateway): Server {
  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout: 30_000, requestTimeout: 0 }, gateway.handle);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

export function createAdminServer(status: AdminStatus, mounts: AdminMount[]): Server {
  return createServer(async (req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics' && req.method === 'GET') {
        const text = await status.metricsText();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      if (path === '/healthz') return json(res, 200, { status: 'ok', inflight: await status.inflight() });
      for (const mount of mounts) if (await mount(req, res)) return;
      json(res, 404, { error: 'not_found', message: `The admin listener has nothing at ${path}.`, request_id: null });
    } catch (err) {
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: 'internal_error', message: 'The admin listener failed on this request.', request_id: null });
    }
  });
}

/** Listens and returns the base URL (`http://host:port`). */
export function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
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

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
