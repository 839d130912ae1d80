/**
 * End-to-end test harness: an identity provider double and an upstream double, both real HTTP on
 * 127.0.0.1, and a gateway started the way `regate serve` starts it (real policy bundle, real
 * identity verification). Everything a test starts, `stop()` stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { DEFAULT_LIMITS, type GatewayConfig, type LimitsConfig } from '../../src/config/index.js';
import { DEFAULT_BUNDLE, loadBundle } from '../../src/policy/index.js';
import { activate, bundleOptions, gatewayOptions, openSingletons, serverLimits, startGateway, type RunningGateway } from '../../src/app/index.js';
import { createGatewayServer, Gateway, Logger, type ActivePolicy, type AuditSink } from '../../src/proxy/index.js';
import { listen } from '../../src/util/index.js';

export function listenOn(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A port nobody listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await listenOn(s);
  const port = (s.address() as AddressInfo).port;
  await close(s);
  return port;
}

export interface IdpDouble {
  url: string;
  issuer: string;
  publicJwk: JWK;
  publicPem: string;
  token(opts: { sub: string; groups: string[]; exp?: number; nbf?: number; iss?: string; aud?: string; kid?: string }): Promise<string>;
  stop(): Promise<void>;
}

/** An OIDC-style issuer: ES256 keys, its JWKS served over HTTP. */
export async function startIdp(): Promise<IdpDouble> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  const url = await listenOn(server);
  const issuer = 'https://idp.test';
  const { createPublicKey } = await import('node:crypto');
  const publicPem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  return {
    url,
    issuer,
    publicJwk,
    publicPem,
    token: (o) => {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ groups: o.groups })
        .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? 'test-key-1', typ: 'JWT' })
        .setIssuer(o.iss ?? issuer)
        .setAudience(o.aud ?? 'regate-test')
        .setSubject(o.sub)
        .setIssuedAt(now - 5)
        .setExpirationTime(o.exp ?? now + 600);
      if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
      return jwt.sign(privateKey);
    },
    stop: () => close(server),
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** The model service double: records what reaches it; a handler per path decides the answer. */
export class UpstreamDouble {
  readonly seen: SeenRequest[] = [];
  readonly handlers = new Map<string, UpstreamHandler>();
  /** Requests whose response the gateway closed before it ended (client aborts reaching upstream). */
  readonly abandoned: string[] = [];
  readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.on('close', () => {
          if (!res.writableFinished) this.abandoned.push(req.url!);
        });
        const path = req.url!.split('?')[0]!;
        const h = this.handlers.get(path);
        if (h) h(req, res, body);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path }));
      });
    });
  }

  async start(): Promise<this> {
    this.url = await listenOn(this.server);
    return this;
  }

  stop(): Promise<void> {
    return close(this.server);
  }
}

/** Collects the gateway's JSON log lines. */
export class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
  lines(): Record<string, unknown>[] {
    return this.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export const UPSTREAM_SECRET = 'upstream-secret-value-42';

export function testConfig(
  idp: IdpDouble,
  upstreamUrl: string,
  over: {
    maxBodyBytes?: number;
    headersMs?: number;
    stateDir?: string;
    holdWaitSeconds?: number;
    policy?: Partial<GatewayConfig['policy']>;
    audit?: Partial<GatewayConfig['audit']>;
    maxPendingPerIdentity?: number;
    metricsPublic?: boolean;
    limits?: Partial<LimitsConfig>;
    reporting?: Pick<GatewayConfig, 'decision_logs' | 'status' | 'labels'>;
    chatUnmaskable?: 'refuse' | 'pass';
    /** routes[].body_cap_bytes by route name. */
    routeBodyCaps?: Record<string, number>;
  } = {},
): GatewayConfig {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, metrics_public: over.metricsPublic ?? false },
    state_dir: over.stateDir ?? '/nonexistent',
    max_body_bytes: over.maxBodyBytes ?? 64 * 1024,
    drain_seconds: 5,
    workers: 1,
    upstreams: {
      models: {
        url: upstreamUrl,
        credential: { header: 'x-upstream-key', value: UPSTREAM_SECRET },
        connections: 8,
        timeouts: { connect_ms: 1000, headers_ms: over.headersMs ?? 2000, body_ms: 5000 },
      },
    },
    routes: ([
      { name: 'fraud-model', path_prefix: '/v1/score', host: undefined, upstream: 'models', unmaskable: 'refuse' },
      { name: 'transactions', path_prefix: '/v1/transactions', host: undefined, upstream: 'models', unmaskable: 'refuse' },
      { name: 'chat', path_prefix: '/v1/chat', host: undefined, upstream: 'models', unmaskable: over.chatUnmaskable ?? 'refuse' },
      { name: 'models', path_prefix: '/v1/models', host: undefined, upstream: 'models', unmaskable: 'refuse' },
    ] as GatewayConfig['routes']).map((r) => (over.routeBodyCaps?.[r.name] === undefined ? r : { ...r, body_cap_bytes: over.routeBodyCaps[r.name] })),
    identity: {
      issuer: idp.issuer,
      audience: 'regate-test',
      jwks_url: `${idp.url}/jwks.json`,
      jwks_file: undefined,
      algorithms: undefined,
      clock_tolerance_seconds: 5,
      groups_claim: 'groups',
      jwks_cooldown_seconds: 1,
      jwks_max_age_seconds: 600,
      jwks_fetch_timeout_ms: 2000,
      token_cache_entries: 100,
      api_keys: [],
    },
    policy: { bundle: DEFAULT_BUNDLE, public_key_file: undefined, allow_unsigned: true, poll_seconds: 0, ...over.policy },
    audit: { dir: join(over.stateDir ?? '/nonexistent', 'audit'), body_cap_bytes: 8192, max_size_bytes: 2 ** 30, ...over.audit },
    holds: { wait_seconds: over.holdWaitSeconds ?? 2, max_pending_per_identity: over.maxPendingPerIdentity ?? 5, max_pending: 100, webhook_url: undefined },
    limits: { ...DEFAULT_LIMITS, ...over.limits },
    logging: { level: 'info', requests: true },
    ...over.reporting,
  };
}

export interface Rig {
  idp: IdpDouble;
  upstream: UpstreamDouble;
  gw: RunningGateway;
  logs: LogSink;
  stateDir: string;
  stop(): Promise<void>;
}

export async function startRig(over: Parameters<typeof testConfig>[2] & { upstreamUrl?: string; keepState?: boolean } = {}): Promise<Rig> {
  const idp = await startIdp();
  const upstream = await new UpstreamDouble().start();
  const logs = new LogSink();
  // A folder of its own unless the test brings one (then the test owns it: never removed here).
  const stateDir = over.stateDir ?? mkdtempSync(join(tmpdir(), 'regate-rig-'));
  const owned = over.stateDir === undefined && !over.keepState;
  let gw: RunningGateway;
  try {
    gw = await startGateway(testConfig(idp, over.upstreamUrl ?? upstream.url, { stateDir, ...over }), { log: logs });
  } catch (err) {
    // A gateway that refuses to start (a test of that refusal) must not leave its doubles listening:
    // they would keep the test process, and so `npm test`, from ever exiting.
    await upstream.stop();
    await idp.stop();
    if (owned) rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    idp,
    upstream,
    gw,
    logs,
    stateDir,
    stop: async () => {
      await gw.stop();
      await upstream.stop();
      await idp.stop();
      if (owned) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * A gateway built in process as `regate serve` builds it (real audit log, holds, identity and
 * policy bundle) on a fresh state folder, with the test's wraps around the audit sink and the
 * policy (to hold acknowledgements at a gate, or to see what the policy is given). `stop()` stops
 * it, its doubles and removes the folder.
 */
export async function startInProcess(wrap: { audit?: (real: AuditSink) => AuditSink; policy?: (real: ActivePolicy) => ActivePolicy } = {}, adjust?: (c: GatewayConfig) => void, idp?: IdpDouble): Promise<{ url: string; idp: IdpDouble; upstream: UpstreamDouble; stop(): Promise<void> }> {
  idp ??= await startIdp();
  const upstream = await new UpstreamDouble().start();
  const stateDir = mkdtempSync(join(tmpdir(), 'regate-in-process-'));
  const config = testConfig(idp, upstream.url, { stateDir });
  adjust?.(config);
  const logger = new Logger(new LogSink(), 'info');
  const shared = await openSingletons(config, logger, {});
  const real = activate(await loadBundle(config.policy.bundle, await bundleOptions(config)));
  const policy = wrap.policy ? wrap.policy(real) : real;
  const audit = wrap.audit ? wrap.audit(shared.audit) : shared.audit;
  const gateway = new Gateway({ authenticator: shared.authenticator, audit, policy: { current: () => policy }, holds: shared.holds, logger }, gatewayOptions(config));
  const server = createGatewayServer(gateway, serverLimits(config));
  const url = await listen(server, '127.0.0.1', 0);
  return {
    url, idp, upstream,
    stop: async () => {
      await close(server);
      await gateway.close();
      await shared.close(true);
      await upstream.stop();
      await idp!.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
