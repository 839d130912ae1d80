/**
 * The parts the hold tests run against, all on real loopback sockets: an identity provider double
 * (real ES256 JWTs, JWKS over HTTP, verified with jose), an upstream model double, a minimal
 * gateway that does what the proxy does with a hold decision, and the admin listener.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { HoldLimitExceeded, HoldService, type HoldAuditEvent, type HoldServiceOptions } from '../../src/hold/index.js';
import { createHoldsApi, type AuditViews } from '../../src/admin/index.js';
import type { HoldSpec, Identity } from '../../src/contract/index.js';
import { RegateError } from '../../src/util/index.js';

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface Idp {
  issuer: string;
  token(sub: string, groups: string[]): Promise<string>;
  authenticate(req: IncomingMessage): Promise<Identity>;
  close(): Promise<void>;
}

export async function startIdp(): Promise<Idp> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
  const { server, url } = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  const jwks = createRemoteJWKSet(new URL(`${url}/jwks.json`));
  const issuer = url;
  return {
    issuer,
    token: (sub, groups) =>
      new SignJWT({ groups }).setProtectedHeader({ alg: 'ES256', kid: 'test-key' }).setSubject(sub).setIssuer(issuer)
        .setAudience('regate').setIssuedAt().setExpirationTime('10m').sign(privateKey),
    async authenticate(req) {
      const header = req.headers.authorization ?? '';
      if (!header.startsWith('Bearer ')) throw new Error('no bearer token');
      const { payload } = await jwtVerify(header.slice(7), jwks, { issuer, audience: 'regate', algorithms: ['ES256'] });
      return { sub: String(payload.sub), iss: String(payload.iss), groups: (payload.groups as string[]) ?? [], claims: payload };
    },
    close: () => stop(server),
  };
}

export const SPEC: HoldSpec = { reason: 'bulk extraction of transactions', approvers: ['pci-approvers'], ttl_seconds: 3600 };

export interface Stack {
  gatewayUrl: string;
  adminUrl: string;
  service: HoldService;
  idp: Idp;
  events: HoldAuditEvent[];
  dir: string;
  upstreamHits: number;
  /** Stops the servers and the service (keeps the store directory unless `removeDir`). */
  close(removeDir?: boolean): Promise<void>;
}

/**
 * Starts IdP, upstream, a gateway stand-in and the admin listener around a HoldService. The
 * gateway holds every request with `spec` (JSON body `{"spec": ...}` overrides), replays an
 * approved-after-timeout request once, and forwards approved requests unchanged.
 */
export async function startStack(opts: Partial<HoldServiceOptions> & { idp?: Idp; spec?: HoldSpec; auditViews?: AuditViews } = {}): Promise<Stack> {
  const idp = opts.idp ?? (await startIdp());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'regate-hold-'));
  const events: HoldAuditEvent[] = [];
  const service = await HoldService.open({
    waitSeconds: 10,
    sweepIntervalMs: 50,
    audit: async (e) => void events.push(e),
    ...opts,
    dir,
  });
  const stack = { upstreamHits: 0 } as Stack;
  const upstream = await listen(async (req, res) => {
    const body = await readBody(req);
    stack.upstreamHits += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: 'ok', method: req.method, path: req.url, body: body.toString('utf8') }));
  });
  const gateway = await listen(async (req, res) => {
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    try {
      const identity = await idp.authenticate(req);
      const body = await readBody(req);
      const sha = createHash('sha256').update(body).digest('hex');
      const path = req.url ?? '/';
      const method = req.method ?? 'GET';
      const approval = service.approvalFor(identity, 'fraud-model', method, path, sha);
      if (approval) {
        await service.consumeReplay(approval.hold_id, randomUUID());
      } else {
        const aborted = new AbortController();
        res.on('close', () => aborted.abort());
        const spec = body.length && JSON.parse(body.toString('utf8')).spec ? JSON.parse(body.toString('utf8')).spec : (opts.spec ?? SPEC);
        const outcome = await service.hold({ requestId: randomUUID(), identity, route: 'fraud-model', method, path, bodySha256: sha, summary: `${method} ${opts.shownPath ? opts.shownPath(path) : path}`, spec }, aborted.signal);
        if (outcome.status === 'denied') return json(403, { error: 'hold_denied', message: outcome.reason, hold_id: outcome.holdId });
        if (outcome.status === 'timeout') return json(403, { error: 'hold_pending', message: 'not approved in time', hold_id: outcome.holdId });
      }
      const up = await fetch(upstream.url + path, { method, body: body.length ? body : undefined });
      json(up.status, await up.json());
    } catch (err) {
      if (err instanceof HoldLimitExceeded) return json(429, { error: err.code, message: err.message });
      json(err instanceof RegateError ? 503 : 401, { error: 'failed', message: (err as Error).message });
    }
  });
  const admin = await listen(async (req, res) => {
    const handled = await createHoldsApi(service, (r) => idp.authenticate(r), opts.auditViews)(req, res);
    if (!handled) {
      res.writeHead(404);
      res.end();
    }
  });
  return Object.assign(stack, {
    gatewayUrl: gateway.url,
    adminUrl: admin.url,
    service,
    idp,
    events,
    dir,
    async close(removeDir = true) {
      await Promise.all([stop(gateway.server), stop(admin.server), stop(upstream.server)]);
      await service.close();
      if (!opts.idp) await idp.close();
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** Calls the admin API as `token`; JSON in, status and JSON out. */
export async function adminCall(stack: { adminUrl: string }, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(stack.adminUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Polls until `check` returns a value (bounded: 200 tries, 25 ms apart). */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Waits until `token`'s identity sees a pending hold and returns its id. */
export async function pendingHoldId(stack: Stack, token: string): Promise<string> {
  return eventually('a pending hold', async () => {
    const r = await adminCall(stack, token, 'GET', '/api/holds?state=pending');
    return r.body?.holds?.[0]?.id as string | undefined;
  });
}

/** Sends a request through the gateway as `token`; resolves to status and JSON. */
export async function clientCall(stack: { gatewayUrl: string }, token: string, path = '/v1/transactions?limit=5000', body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(stack.gatewayUrl + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
