/**
 * The admin listener (loopback by default) serves operators and approvers: `/metrics`, `/healthz`,
 * and whatever the composition root mounts (the dev IdP's JWKS, the holds console and API).
 *
 * It authenticates every route but `/healthz` and the console's static page, script and style
 * (they carry no data and ask for a token); `/metrics` too, unless the operator makes it public.
 * Every answer carries strict security headers, and a state change announced by a browser as
 * coming from another origin is refused before any mount sees it (CSRF, defence in depth on top
 * of the bearer token and the JSON content type the API requires).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './http.js';

/** What the admin listener reports: one gateway's, or (with `--workers`) the sum over the workers. */
export interface AdminStatus {
  metricsText(): string | Promise<string>;
  inflight(): number | Promise<number>;
}

/** Answers a request and returns true, or returns false to let the next mount try. */
export type AdminMount = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export interface AdminOptions {
  /** Verifies the caller of `/metrics` (the gateway's authenticator: tokens or service API keys). */
  authenticate(req: IncomingMessage): Promise<unknown>;
  /** Serve `/metrics` without a token (config `admin.metrics_public`). */
  metricsPublic: boolean;
}

/** True when a browser says the request comes from a page of another origin. */
function crossOrigin(req: IncomingMessage): boolean {
  if (req.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  return origin !== `http://${req.headers.host ?? ''}` && origin !== `https://${req.headers.host ?? ''}`;
}

export function createAdminServer(status: AdminStatus, mounts: AdminMount[], opts: AdminOptions): Server {
  return createServer(async (req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD' && crossOrigin(req)) {
        return json(res, 403, { error: 'cross_origin', message: 'The admin listener refuses state changes from pages of another origin.', request_id: null });
      }
      if (path === '/metrics' && req.method === 'GET') {
        if (!opts.metricsPublic) {
          try {
            await opts.authenticate(req);
          } catch {
            res.setHeader('www-authenticate', 'Bearer realm="regate-admin"');
            return json(res, 401, { error: 'unauthorized', message: '/metrics needs a valid bearer token (or admin.metrics_public: true).', request_id: null });
          }
        }
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

