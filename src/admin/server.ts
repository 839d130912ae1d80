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
import type { WatchStatus } from '../policy/index.js';
import { sendJson } from '../util/index.js';
import { SECURITY_HEADERS } from './http.js';

/** What the admin listener reports: one gateway's, or (with `--workers`) the sum over the workers. */
export interface AdminStatus {
  metricsText(): string | Promise<string>;
  inflight(): number | Promise<number>;
  /** The bundle each serving process runs (one, or one per worker; none yet while workers start). */
  bundles(): WatchStatus[] | Promise<WatchStatus[]>;
  /** Why the gateway cannot serve now (the audit log is full), or null. */
  unhealthy?(): string | null;
}

/** `/healthz`'s view of a bundle: what runs, since when, from where, and the source's latest failure. */
function bundleHealth(b: WatchStatus): Record<string, unknown> {
  return {
    revision: b.revision,
    activated_at: b.activatedAt.toISOString(),
    origin: b.origin,
    ...(b.lastError ? { source_error: { code: b.lastError.code, message: b.lastError.message, at: b.lastError.at.toISOString(), failures: b.failures } } : {}),
  };
}

/**
 * `/healthz`: 200 with the bundle while serving. `?bundles` (OPA's `/health?bundles`) answers 503
 * until every serving process has activated a bundle; a failing bundle source does not make the
 * gateway unhealthy (the last good bundle serves) but is reported.
 */
async function health(status: AdminStatus, query: URLSearchParams): Promise<{ code: number; body: Record<string, unknown> }> {
  const bundles = await status.bundles();
  const body: Record<string, unknown> = { status: 'ok', inflight: await status.inflight() };
  if (bundles[0]) body.bundle = bundleHealth(bundles[0]);
  const revisions = [...new Set(bundles.map((b) => b.revision))];
  if (revisions.length > 1) body.revisions = revisions;
  if (query.has('bundles') && bundles.length === 0) return { code: 503, body: { ...body, status: 'bundle_not_activated' } };
  const why = status.unhealthy?.() ?? null;
  if (why !== null) return { code: 503, body: { ...body, status: 'unhealthy', reason: why } };
  return { code: 200, body };
}

/** Answers a request and returns true, or returns false to let the next mount try. */
export type AdminMount = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

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
        return sendJson(res, 403, { error: 'cross_origin', message: 'The admin listener refuses state changes from pages of another origin.', request_id: null });
      }
      if (path === '/metrics' && req.method === 'GET') {
        if (!opts.metricsPublic) {
          try {
            await opts.authenticate(req);
          } catch {
            res.setHeader('www-authenticate', 'Bearer realm="regate-admin"');
            return sendJson(res, 401, { error: 'unauthorized', message: '/metrics needs a valid bearer token (or admin.metrics_public: true).', request_id: null });
          }
        }
        const text = await status.metricsText();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      if (path === '/healthz') {
        const { code, body } = await health(status, new URLSearchParams((req.url ?? '').split('?')[1] ?? ''));
        return sendJson(res, code, body);
      }
      for (const mount of mounts) if (await mount(req, res)) return;
      sendJson(res, 404, { error: 'not_found', message: `The admin listener has nothing at ${path}.`, request_id: null });
    } catch (err) {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: 'internal_error', message: 'The admin listener failed on this request.', request_id: null });
    }
  });
}

