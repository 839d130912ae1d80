/**
 * The approvers' admin API and console, mounted on the admin listener (server.ts). Every `/api/*`
 * call is authenticated with the caller's console session (console-signin.ts; a state change then
 * needs the session's CSRF token, 403 without it) or own bearer token (the `authenticate` function
 * the composition root passes in); state changes need a JSON body. Routes:
 *
 *   GET  /api/holds[?state=pending]        holds the caller may see
 *   GET  /api/holds/events                 text/event-stream of changes (the console listens)
 *   GET  /api/holds/:id                    one hold
 *   POST /api/holds/:id/approve            {"comment"?, "grant_seconds"?}
 *   POST /api/holds/:id/deny               {"reason"}
 *   GET  /api/grants                       active grants the caller holds or may revoke
 *   POST /api/grants/:id/revoke            {}
 *   GET  /api/whoami                       the caller's subject and groups, and whether an auditor
 *   GET  /api/audit/...                    the auditors' view (audit-api.ts)
 *   GET  /console, /console/app.js, /console/app.css   the web console (no data; asks for a token)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../contract/index.js';
import { CONSOLE_CSS, CONSOLE_HTML } from './console/page.js';
import { CONSOLE_JS } from './console/script.js';
import { CsrfError } from './console-signin.js';
import { routeAuditView, type AuditViews } from './audit-api.js';
import { approvalsRequired, type Hold, type HoldService } from '../hold/index.js';
import { BadRequest } from '../util/index.js';
import {
  httpStatusFor, optionalInteger, optionalString, readJsonObject, send, sendError, sendJson, startEventStream,
} from './http.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

const STATIC: Record<string, [string, string]> = {
  '/console': ['text/html; charset=utf-8', CONSOLE_HTML],
  '/console/': ['text/html; charset=utf-8', CONSOLE_HTML],
  '/console/app.js': ['text/javascript; charset=utf-8', CONSOLE_JS],
  '/console/app.css': ['text/css; charset=utf-8', CONSOLE_CSS],
};

const HEARTBEAT_MS = 15_000;

function view(service: HoldService, hold: Hold): Record<string, unknown> {
  return { ...service.shown(hold), approvals_required: approvalsRequired(hold), client: service.clientWait(hold) };
}

/**
 * The holds API, its event stream, the console and (given `views`) the auditors' view, as one
 * admin-listener mount; every `/api/*` caller is authenticated with `authenticate`.
 */
export function createHoldsApi(service: HoldService, authenticate: (req: IncomingMessage) => Promise<Identity>, views?: AuditViews): Handler {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = url.pathname;
    const asset = STATIC[path];
    if (asset) {
      if (req.method !== 'GET' && req.method !== 'HEAD') sendError(res, req, 405, 'method_not_allowed', `${path} answers GET only`, { allow: 'GET' });
      else send(res, 200, asset[0], asset[1]);
      return true;
    }
    if (!/^\/api\/(holds|grants|audit|whoami)(\/|$)/.test(path)) return false;

    let caller: Identity;
    try {
      caller = await authenticate(req);
    } catch (err) {
      if (err instanceof CsrfError) {
        sendError(res, req, 403, 'csrf', err.message);
        return true;
      }
      sendError(res, req, 401, 'unauthenticated', 'the admin API needs your own valid bearer token', {
        'www-authenticate': 'Bearer realm="regate-admin"',
      });
      return true;
    }
    try {
      await route(service, views, caller, req, res, url);
    } catch (err) {
      const status = httpStatusFor(err);
      const code = status === 500 ? 'internal_error' : (err as { code: string }).code.replace(/^ERR_/, '').toLowerCase();
      sendError(res, req, status, code, status === 500 ? 'the hold service failed; see the gateway log' : (err as Error).message);
    }
    return true;
  };
}

async function route(service: HoldService, views: AuditViews | undefined, caller: Identity, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent); // ['api', 'holds', id?, action?]
  const [, collection, id, action] = parts;
  const method = req.method ?? 'GET';
  const wrong = (): void => sendError(res, req, 405, 'method_not_allowed', `${method} ${url.pathname} is not an admin API call`);
  if (collection === 'audit') return routeAuditView(service, views, caller, req, res, url);
  if (collection === 'whoami') {
    if (method !== 'GET' || id !== undefined) return wrong();
    return sendJson(res, 200, { sub: caller.sub, iss: caller.iss, groups: caller.groups, auditor: service.isAuditor(caller) });
  }

  if (collection === 'holds') {
    if (id === undefined) {
      if (method !== 'GET') return wrong();
      const state = url.searchParams.get('state') ?? undefined;
      return sendJson(res, 200, { now_ms: service.nowMs(), holds: (await service.listHolds(caller, state)).map((h) => view(service, h)) });
    }
    if (id === 'events' && action === undefined) {
      if (method !== 'GET') return wrong();
      return streamEvents(service, caller, req, res);
    }
    if (action === undefined) {
      if (method !== 'GET') return wrong();
      return sendJson(res, 200, view(service, await service.getHold(caller, id)));
    }
    if (method !== 'POST' || parts.length !== 4) return wrong();
    const body = await readJsonObject(req);
    if (action === 'approve') {
      const hold = await service.approve(caller, id, optionalString(body, 'comment'), optionalInteger(body, 'grant_seconds'));
      return sendJson(res, 200, view(service, hold));
    }
    if (action === 'deny') {
      const reason = optionalString(body, 'reason').trim();
      if (!reason) throw new BadRequest('a denial needs a "reason" the requester will read');
      return sendJson(res, 200, view(service, await service.deny(caller, id, reason)));
    }
    return wrong();
  }
  if (id === undefined) {
    if (method !== 'GET') return wrong();
    return sendJson(res, 200, { now_ms: service.nowMs(), grants: await service.listGrants(caller) });
  }
  if (method !== 'POST' || action !== 'revoke' || parts.length !== 4) return wrong();
  await readJsonObject(req);
  return sendJson(res, 200, await service.revokeGrant(caller, id));
}

/** Streams change notices (kind, id, state) the caller may see until either side closes. */
function streamEvents(service: HoldService, caller: Identity, req: IncomingMessage, res: ServerResponse): void {
  startEventStream(res);
  res.write(': regate hold events\n\n');
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const unsubscribe = service.subscribe((change) => {
    if (change.state === 'closed') return res.end();
    const line = `event: change\ndata: ${JSON.stringify(change)}\n\n`;
    if (change.kind !== 'hold') return void res.write(line);
    // Only holds the caller may see (the store may be another machine's: asked, not assumed).
    service.getHold(caller, change.id).then(() => res.writableEnded || res.write(line), () => undefined);
  });
  const stop = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  req.on('close', stop);
  res.on('close', stop);
}
