/**
 * Opening and closing an HTTP listener: the same two steps for the gateway's client listener, the
 * admin listener and the demo's stand-in model service.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** Stops accepting and closes every connection, idle or not. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
