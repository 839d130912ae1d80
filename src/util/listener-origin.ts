/**
 * The origin a request reached, from its socket (local address and port, TLS or not), never from
 * the client's `Host` header: where a listener may safely call itself or tell others to call it.
 */
import type { IncomingMessage } from 'node:http';

export function listenerOrigin(req: IncomingMessage): string {
  const local = req.socket.localAddress ?? '127.0.0.1';
  const host = local.includes(':') ? `[${local}]` : local;
  return `${'encrypted' in req.socket ? 'https' : 'http'}://${host}:${req.socket.localPort}`;
}
