/**
 * Assembles a running gateway from a validated config: builds each stage's service (identity,
 * policy, and the others as they are configured), the pipeline, and the two listeners. `regate
 * serve` and `regate demo` both start here, so the demo runs exactly the code operators run.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { GatewayConfig, IdentityConfig } from '../config/index.js';
import { HoldService } from '../hold/index.js';
import { createAuthenticator, jwksRequestHandler, type IdentityOptions, type JSONWebKeySet } from '../identity/index.js';
import { loadBundle, type PolicyEngine } from '../policy/index.js';
import { RegateError } from '../util/errors.js';
import { Gateway, type PolicyService } from './gateway.js';
import { Logger } from './log.js';
import { maskService } from './masking.js';
import { closeServer, createAdminServer, createGatewayServer, drainServer, listen, type AdminMount } from './server.js';

/** The gateway could not start (listener, bundle, key): the message names what failed. */
export class StartupError extends RegateError {
  static override readonly code: string = 'ERR_STARTUP';
}

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

/** The policy in force; swapped whole when a new bundle loads, so a request sees one revision. */
class CurrentPolicy implements PolicyService {
  constructor(public engine: PolicyEngine) {}
  get revision(): string {
    return this.engine.revision;
  }
  evaluate(input: Parameters<PolicyEngine['evaluate']>[0]) {
    return this.engine.evaluate(input);
  }
}

async function loadPolicy(config: GatewayConfig): Promise<CurrentPolicy> {
  const publicKeyPem = config.policy.public_key_file ? await readFile(config.policy.public_key_file, 'utf8') : undefined;
  return new CurrentPolicy(await loadBundle(config.policy.bundle, { publicKeyPem }));
}

async function listenOrFail(server: Server, what: string, host: string, port: number): Promise<string> {
  try {
    return await listen(server, host, port);
  } catch (err) {
    throw new StartupError(`cannot listen for ${what} on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const logger = new Logger(opts.log ?? process.stdout, config.logging.level);
  const policy = await loadPolicy(config);
  const authenticator = createAuthenticator(identityOptions(config.identity, opts.jwks));
  const holds = await HoldService.open({
    dir: join(config.state_dir, 'holds'),
    waitSeconds: config.holds.wait_seconds,
    maxPendingPerIdentity: config.holds.max_pending_per_identity,
    maxPendingTotal: config.holds.max_pending,
    webhookUrl: config.holds.webhook_url,
  });
  const gateway = new Gateway(
    { authenticator, policy, masker: maskService, holds, logger },
    { routes: config.routes, upstreams: config.upstreams, maxBodyBytes: config.max_body_bytes, logRequests: config.logging.requests },
  );
  const holdsAdmin = holds.adminHandler((req) => authenticator.authenticate(req.headers));
  const mounts: AdminMount[] = [holdsAdmin];
  if (opts.jwks) {
    const serveJwks = jwksRequestHandler(opts.jwks);
    mounts.push((req, res) => {
      if (!req.url?.startsWith('/.well-known/jwks.json')) return false;
      serveJwks(req, res);
      return true;
    });
  }
  const server = createGatewayServer(gateway);
  const admin = createAdminServer(gateway, mounts);
  let url: string;
  let adminUrl: string;
  try {
    url = await listenOrFail(server, 'clients', config.listen.host, config.listen.port);
    adminUrl = await listenOrFail(admin, 'the admin listener', config.admin.host, config.admin.port);
  } catch (err) {
    await Promise.all([closeServer(server), closeServer(admin)]);
    await gateway.close();
    await holds.close();
    authenticator.close();
    throw err;
  }
  logger.log('info', 'gateway started', { url, admin_url: adminUrl, policy_revision: policy.revision });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await drainServer(server, gateway, config.drain_seconds * 1000);
      await closeServer(admin);
      await gateway.close();
      await holds.close();
      authenticator.close();
      logger.log('info', 'gateway stopped', { url });
    })());
  return { url, adminUrl, gateway, logger, stop };
}
