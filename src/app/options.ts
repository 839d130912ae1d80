/**
 * The config → options mappers: each stage's settings read from the validated config in one
 * place, so `regate serve`, the workers and the stage-ladder benchmark build the same services.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdminMount, AdminOptions } from '../admin/index.js';
import type { GatewayConfig, IdentityConfig } from '../config/index.js';
import type { IdentityOptions, JSONWebKeySet } from '../identity/index.js';
import { DEFAULT_ENTRYPOINT, type LoadOptions, type WatchOptions } from '../policy/index.js';
import type { AuthenticatorService, GatewayOptions, GatewayServerLimits } from '../proxy/index.js';
import type { ServiceOptions } from '../util/index.js';
import { StartupError } from './errors.js';

export interface StartOptions {
  /** Where logs go (default stdout). */
  log?: NodeJS.WritableStream;
  /** A key set to verify tokens with instead of the config's source; served at /.well-known/jwks.json (the demo's dev IdP). */
  jwks?: JSONWebKeySet;
  /** More admin-listener mounts, tried after the console's (the demo's dev IdP authorization server). */
  adminMounts?: AdminMount[];
  /** Start although the audit store does not extend the checkpoint last published (`--accept-audit-store REASON`); the reason is recorded. */
  acceptAuditStore?: string;
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

type ServiceConfig = Pick<NonNullable<GatewayConfig['policy']['service']>, 'credentials' | 'tls' | 'timeout_ms'>;

/** A `service` section of the config (bundle server, decision logs, status) as the HTTP client's options. */
export function serviceOptions(s: ServiceConfig): ServiceOptions {
  return {
    tokenFile: s.credentials?.bearer.token_file,
    scheme: s.credentials?.bearer.scheme,
    tls: s.tls && { caFile: s.tls.ca_file, certFile: s.tls.cert_file, keyFile: s.tls.key_file },
    timeoutMs: s.timeout_ms,
  };
}

/** How the policy is read, verified and watched: bundleOptions plus polling, the bundle server's client and the persisted copy. */
export async function watchOptions(config: GatewayConfig): Promise<WatchOptions> {
  const { poll_seconds: pollSeconds, service } = config.policy;
  return {
    ...(await bundleOptions(config)),
    pollSeconds,
    persistPath: persistedBundlePath(config),
    ...(service ? {
      // A held poll is answered up to long_polling_timeout_seconds late: the request may take that much longer.
      service: { ...serviceOptions(service), timeoutMs: service.timeout_ms + (service.long_polling_timeout_seconds ?? 0) * 1000 },
      maxBackoffSeconds: service.max_backoff_seconds,
      longPollingSeconds: service.long_polling_timeout_seconds,
    } : {}),
  };
}

/** The persisted copy of a bundle server's last good bundle: one file per source URL, in the state folder. */
export function persistedBundlePath(config: GatewayConfig): string | undefined {
  const { bundle, service } = config.policy;
  if (!/^https?:\/\//i.test(bundle) || service?.persist === false) return undefined;
  return join(config.state_dir, 'bundles', `${createHash('sha256').update(bundle).digest('hex').slice(0, 16)}.tar.gz`);
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
