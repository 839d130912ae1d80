/**
 * Assembles a running gateway from a validated config: builds each stage's service (identity,
 * policy, and the others as they are configured), the pipeline, and the two listeners. `regate
 * serve` and `regate demo` both start here, so the demo runs exactly the code operators run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { GatewayConfig, IdentityConfig } from '../config/index.js';
import { AuditLog, loadOrCreateAuditKey, statePublicKeyFiles } from '../audit/index.js';
import { HoldService } from '../hold/index.js';
import { compileMaskPlan, maskText } from '../mask/index.js';
import { createAuthenticator, jwksRequestHandler, type Authenticator, type IdentityOptions, type JSONWebKeySet } from '../identity/index.js';
import { BundleFetchError, BundleSignatureError, DEFAULT_ENTRYPOINT, watchBundle, type BundleWatcher, type LoadOptions, type PolicyEngine, type WatchStatus } from '../policy/index.js';
import { RegateError } from '../util/errors.js';
import { VERSION } from '../util/version.js';
import { auditViews } from './audit-views.js';
import { Gateway, type ActivePolicy, type AuditSink, type AuthenticatorService, type GatewayOptions, type HoldsService, type PolicyService } from './gateway.js';
import { Logger } from './log.js';
import { bundleMasker, CARD_RULES } from './masking.js';
import { closeServer, createAdminServer, createGatewayServer, drainServer, gatewayStatus, listen, type AdminMount, type AdminOptions, type GatewayServerLimits } from './server.js';

/** The gateway could not start (listener, bundle, key): the message names what failed. */
export class StartupError extends RegateError {
  static override readonly code: string = 'ERR_STARTUP';
}

/**
 * Defence in depth: every string the audit log stores passes the card detectors once more. The
 * built-in pass skips, without the RE2 call, strings that cannot hold card data (most strings of a
 * record: ids, hashes, routes, reasons), which was the audit path's largest cost (bench/README.md).
 */
const auditScrubPlan = compileMaskPlan(CARD_RULES);
export const auditScrub = (s: string): string => maskText(auditScrubPlan, s).text;

export interface StartOptions {
  /** Where logs go (default stdout). */
  log?: NodeJS.WritableStream;
  /** A key set to verify tokens with instead of the config's source; served at /.well-known/jwks.json (the demo's dev IdP). */
  jwks?: JSONWebKeySet;
}

export interface RunningGateway {
  url: string;
  adminUrl: string;
  gateway: Gateway;
  logger: Logger;
  /** Stops accepting, finishes in-flight requests (up to `drain_seconds`), then releases everything. */
  stop(): Promise<void>;
}

export function identityOptions(c: IdentityConfig, jwks?: JSONWebKeySet): IdentityOptions {
  return {
    issuer: c.issuer,
    audience: c.audience,
    ...(jwks ? { jwks } : c.jwks_url ? { jwksUrl: c.jwks_url } : { jwksFile: c.jwks_file }),
    algorithms: c.algorithms,
    clockToleranceSeconds: c.clock_tolerance_seconds,
    groupsClaim: c.groups_claim,
    cacheSize: c.token_cache_entries,
    apiKeys: c.api_keys,
    jwksCooldownSeconds: c.jwks_cooldown_seconds,
    jwksMaxAgeSeconds: c.jwks_max_age_seconds,
    fetchTimeoutMs: c.jwks_fetch_timeout_ms,
  };
}

/** A loaded bundle as the pipeline uses it; its masker compiles the bundle's custom detectors now. */
export function activate(engine: PolicyEngine): ActivePolicy {
  return { revision: engine.revision, evaluate: (input) => engine.evaluate(input), masker: bundleMasker(engine.customDetectors) };
}

async function readPublicKey(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new StartupError(`cannot read ${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** How the config says bundles are read and verified: its key or keys, key id and scope, entrypoint, and whether a signature is required. */
export async function bundleOptions(config: GatewayConfig): Promise<LoadOptions> {
  const p = config.policy;
  const keys = p.keys
    ? await Promise.all(Object.entries(p.keys).map(async ([keyId, k]) => ({ keyId, publicKeyPem: await readPublicKey(k.public_key_file, `policy.keys.${keyId}.public_key_file`), ...(k.scope ? { scope: k.scope } : {}) })))
    : undefined;
  return {
    ...(p.public_key_file ? { publicKeyPem: await readPublicKey(p.public_key_file, 'policy.public_key_file') } : {}),
    ...(keys ? { keys } : {}),
    ...(p.key_id ? { keyId: p.key_id } : {}),
    ...(p.scope ? { scope: p.scope } : {}),
    entrypoint: p.entrypoint ?? DEFAULT_ENTRYPOINT,
    requireSignature: !p.allow_unsigned,
  };
}

/** What the operator changes when the bundle is refused at start, by the kind of refusal. */
function policyFix(err: unknown): string {
  if (err instanceof BundleSignatureError) return 'check policy.public_key_file (or policy.keys, key_id, scope) against the key that signed the bundle';
  if (err instanceof BundleFetchError) return 'check policy.bundle and policy.service, or that the bundle server is up';
  if (/does not exist/.test((err as Error).message)) return 'fix policy.bundle, or build the bundle with `regate build`';
  if (/entrypoint/.test((err as Error).message)) return 'set policy.entrypoint to a rule the bundle was built for';
  return 'fix the bundle named by policy.bundle';
}

/** The persisted copy of a bundle server's last good bundle: one file per source URL, in the state folder. */
export function persistedBundlePath(config: GatewayConfig): string | undefined {
  const { bundle, service } = config.policy;
  if (!/^https?:\/\//i.test(bundle) || service?.persist === false) return undefined;
  return join(config.state_dir, 'bundles', `${createHash('sha256').update(bundle).digest('hex').slice(0, 16)}.tar.gz`);
}

/**
 * Loads the bundle (signed unless `policy.allow_unsigned`) and, with `poll_seconds` > 0, keeps
 * watching it: a new bundle that fails verification or compilation is refused and the last good
 * one keeps serving. Every load and refusal, the first one included, is audited and logged.
 */
async function watchPolicy(config: GatewayConfig, audit: AuditSink, logger: Logger): Promise<{ policy: PolicyService; watcher: BundleWatcher }> {
  const { bundle: source, poll_seconds: pollSeconds, public_key_file: keyFile, service } = config.policy;
  const options = await bundleOptions(config);
  const how = options.publicKeyPem ? `signature verified with ${keyFile}`
    : options.keys ? `signature verified with one of policy.keys (${options.keys.map((k) => k.keyId).join(', ')})`
    : 'unsigned: policy.allow_unsigned is true';
  const record = (revision: string | null, reason: string) =>
    audit.append({ type: revision ? 'bundle.loaded' : 'bundle.rejected', source, revision, reason }).then(
      () => undefined,
      (err: unknown) => logger.log('error', 'audit bundle record failed', { error: (err as Error).message }),
    );
  const loaded = (engine: PolicyEngine, origin = 'source') => {
    logger.log('info', 'policy bundle loaded', { source, policy_revision: engine.revision, verification: how, ...(origin === 'source' ? {} : { origin }) });
    return record(engine.revision, origin === 'source' ? how : `${how}; from the persisted copy, the source being unavailable`);
  };
  const active = new WeakMap<PolicyEngine, ActivePolicy>();
  const accept = (engine: PolicyEngine) => void active.set(engine, activate(engine));
  let watcher: BundleWatcher;
  try {
    watcher = await watchBundle(source, {
      ...options,
      pollSeconds,
      persistPath: persistedBundlePath(config),
      ...(service ? {
        service: {
          tokenFile: service.credentials?.bearer.token_file,
          scheme: service.credentials?.bearer.scheme,
          tls: service.tls && { caFile: service.tls.ca_file, certFile: service.tls.cert_file, keyFile: service.tls.key_file },
          timeoutMs: service.timeout_ms,
        },
        maxBackoffSeconds: service.max_backoff_seconds,
      } : {}),
      accept,
      onLoad: (engine) => void loaded(engine),
      onReject: (err) => {
        logger.log('warn', 'policy bundle refused; keeping the last good one', { source, error: err.message, code: (err as { code?: string }).code });
        void record(null, err.message);
      },
      onPersistFailed: (err) => logger.log('warn', 'the policy bundle could not be persisted; a restart while the bundle server is down would fail', { error: err.message }),
    });
  } catch (err) {
    logger.log('error', 'policy bundle refused; the gateway does not start', { source, error: (err as Error).message });
    await record(null, (err as Error).message);
    throw new StartupError(`policy bundle ${source} refused: ${(err as Error).message}; ${policyFix(err)}`, { cause: err });
  }
  await loaded(watcher.current(), watcher.status().origin);
  return { policy: { current: () => active.get(watcher.current())! }, watcher };
}

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
 * What only one process may hold: the audit log (one writer, one sequence), the holds service
 * (one set of waiting clients, one writer of the hold store) and what the admin listener mounts.
 * With `--workers` the primary holds these and the workers reach them over IPC.
 */
export interface Singletons {
  audit: AuditLog;
  holds: HoldService;
  authenticator: Authenticator;
  mounts: AdminMount[];
  /** Closes holds and authenticator, records `gateway.stop` if the gateway had started, then seals and closes the audit log. */
  close(started: boolean): Promise<void>;
}

export async function openSingletons(config: GatewayConfig, logger: Logger, opts: StartOptions): Promise<Singletons> {
  const key = await loadOrCreateAuditKey(config.state_dir);
  const audit = await AuditLog.open({
    dir: config.audit.dir,
    signingKey: key.privateKey,
    keyId: key.keyId,
    mapSizeBytes: config.audit.max_size_bytes,
    durability: config.audit.durability,
    scrub: auditScrub,
  });
  const authenticator = createAuthenticator(identityOptions(config.identity, opts.jwks));
  let holds: HoldService;
  try {
    holds = await HoldService.open({
      // The audit log records the holds stage's events as they are (same shape).
      audit: async (event) => {
        await audit.append(event);
      },
      dir: holdsDir(config),
      waitSeconds: config.holds.wait_seconds,
      maxPendingPerIdentity: config.holds.max_pending_per_identity,
      maxPendingTotal: config.holds.max_pending,
      webhookUrl: config.holds.webhook_url,
      // The console's auditors' view reads this same log; views are audited through `audit` above.
      auditViews: auditViews(config.audit.dir, () => statePublicKeyFiles(config.state_dir)),
    });
  } catch (err) {
    authenticator.close();
    await audit.close();
    throw err;
  }
  const mounts: AdminMount[] = [holds.adminHandler((req) => authenticator.authenticate(req.headers))];
  if (opts.jwks) {
    const serveJwks = jwksRequestHandler(opts.jwks);
    mounts.push((req, res) => {
      if (!req.url?.startsWith('/.well-known/jwks.json')) return false;
      serveJwks(req, res);
      return true;
    });
  }
  return {
    audit,
    holds,
    authenticator,
    mounts,
    close: async (started) => {
      await holds.close();
      authenticator.close();
      if (started) await audit.append({ type: 'gateway.stop', version: VERSION, reason: 'stopped' }).catch(() => undefined);
      await audit.close();
    },
  };
}

/** Records `gateway.start`; a log that cannot be written must not keep the gateway from starting (requests then get 503). */
export async function recordStart(audit: AuditSink, logger: Logger): Promise<void> {
  await audit.append({ type: 'gateway.start', version: VERSION, reason: null }).catch((err: unknown) => {
    logger.log('error', 'the audit log cannot be written; requests will be refused', { error: (err as Error).message });
  });
}

/** Who may read `/metrics` (config `admin.metrics_public`, else any identity the gateway accepts). */
export function adminOptions(config: GatewayConfig, authenticator: AuthenticatorService): AdminOptions {
  return { authenticate: (req) => authenticator.authenticate(req.headers), metricsPublic: config.admin.metrics_public };
}

export function holdsDir(config: GatewayConfig): string {
  return join(config.state_dir, 'holds');
}

/** The pipeline's settings from the config. */
export function gatewayOptions(config: GatewayConfig): GatewayOptions {
  return {
    routes: config.routes,
    upstreams: config.upstreams,
    maxBodyBytes: config.max_body_bytes,
    bodyCapBytes: config.audit.body_cap_bytes,
    logRequests: config.logging.requests,
    limits: {
      requestsPerSecond: config.limits.requests_per_second,
      burst: config.limits.burst,
      maxConcurrent: config.limits.max_concurrent,
      jsonMaxDepth: config.limits.json_max_depth,
    },
  };
}

/** The client listener's limits from the config. */
export function serverLimits(config: GatewayConfig): GatewayServerLimits {
  return {
    headersTimeoutMs: config.limits.headers_timeout_ms,
    requestTimeoutMs: config.limits.request_timeout_ms,
    maxHeaderBytes: config.limits.max_header_bytes,
  };
}

/** The request pipeline and its client listener (not yet listening), over the given audit log and holds. */
export interface Pipeline {
  gateway: Gateway;
  server: Server;
  revision(): string;
  /** The bundle's revision, activation time, origin and latest source failure. */
  bundleStatus(): WatchStatus;
  /** Drains the listener (up to `drain_seconds`), then closes the gateway and the policy watcher. */
  stop(): Promise<void>;
}

export async function openPipeline(
  config: GatewayConfig,
  logger: Logger,
  services: { audit: AuditSink; holds: HoldsService; authenticator: AuthenticatorService },
): Promise<Pipeline> {
  const { policy, watcher } = await watchPolicy(config, services.audit, logger);
  const gateway = new Gateway({ authenticator: services.authenticator, audit: services.audit, policy, holds: services.holds, logger }, gatewayOptions(config));
  const server = createGatewayServer(gateway, serverLimits(config));
  return {
    gateway,
    server,
    revision: () => policy.current().revision,
    bundleStatus: () => watcher.status(),
    stop: async () => {
      await drainServer(server, gateway, config.drain_seconds * 1000);
      await gateway.close();
      await watcher.close();
    },
  };
}

export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const logger = new Logger(opts.log ?? process.stdout, config.logging.level);
  const shared = await openSingletons(config, logger, opts);
  let pipeline: Pipeline;
  try {
    pipeline = await openPipeline(config, logger, shared);
  } catch (err) {
    await shared.close(false);
    throw err;
  }
  const { gateway, server } = pipeline;
  const admin = createAdminServer(gatewayStatus(gateway), shared.mounts, adminOptions(config, shared.authenticator));
  let url: string;
  let adminUrl: string;
  try {
    url = await listenOrFail(server, 'listen', config.listen);
    adminUrl = await listenOrFail(admin, 'admin', config.admin);
  } catch (err) {
    await Promise.all([closeServer(server), closeServer(admin)]);
    await pipeline.stop();
    await shared.close(false);
    throw err;
  }
  await recordStart(shared.audit, logger);
  logger.log('info', 'gateway started', { url, admin_url: adminUrl, policy_revision: pipeline.revision() });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await pipeline.stop();
      await closeServer(admin);
      await shared.close(true);
      logger.log('info', 'gateway stopped', { url });
    })());
  return { url, adminUrl, gateway, logger, stop };
}
