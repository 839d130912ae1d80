/**
 * What only one process may hold (the audit log, the holds service, the admin mounts), opened and
 * closed in order; and the `gateway.start` record.
 */
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { ConsoleSignIn, createHoldsApi, type AdminMount } from '../admin/index.js';
import { Archiver, AuditLog, FolderArchive, loadOrCreateAuditKey, readTrustedKeys, statePublicKeyFiles, stateTrust } from '../audit/index.js';
import type { GatewayConfig } from '../config/index.js';
import type { Reporting } from '../decision-log/index.js';
import type { WatchStatus } from '../policy/index.js';
import { HoldService } from '../hold/index.js';
import { createAuthenticator, jwksRequestHandler, type Authenticator } from '../identity/index.js';
import { shownTarget, type AuditSink, type Logger } from '../proxy/index.js';
import { VERSION } from '../util/index.js';
import { cosignedCheckpoints, WitnessSubmitter, witnessMetrics } from '../witness/index.js';
import { auditScrub } from './audit-scrub.js';
import { auditViews } from './audit-views.js';
import { StartupError } from './errors.js';
import { OpsMetrics } from './ops-metrics.js';
import { openReporting } from './reporting.js';
import { joinCluster, type ClusterNode } from './cluster-node.js';
import { holdsDir, identityOptions, type StartOptions } from './options.js';

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
  /** The process, runtime, bundle, audit, identity and holds metrics (ops-metrics.ts). */
  ops: OpsMetrics;
  /**
   * Where metrics, decision logs and status reports learn the serving processes' bundles (the
   * pipeline's watcher, or the workers'); a status report is sent at once.
   */
  bundlesFrom(source: () => WatchStatus[] | Promise<WatchStatus[]>): void;
  /** Set when the config has `cluster`: this node's membership of the cluster store. */
  cluster: ClusterNode | null;
  /** Submits every checkpoint to `audit.witnesses`; null when none is configured. */
  witnesses: WitnessSubmitter | null;
  /** Lines for /metrics about the audit log (witness lag). */
  auditMetrics(): string;
  /** Closes holds and authenticator, records `gateway.stop` if the gateway had started, then seals and closes the audit log. */
  close(started: boolean): Promise<void>;
}

export async function openSingletons(config: GatewayConfig, logger: Logger, opts: StartOptions): Promise<Singletons> {
  const key = await loadOrCreateAuditKey(config.state_dir);
  const previousKeys = (await readTrustedKeys(statePublicKeyFiles(config.state_dir))).filter((k) => k.kid !== key.keyId);
  const audit = await AuditLog.open({
    dir: config.audit.dir,
    signingKey: key.privateKey,
    keyId: key.keyId,
    mapSizeBytes: config.audit.max_size_bytes,
    durability: config.audit.durability,
    segmentRecords: config.audit.segment_records,
    segmentSeconds: config.audit.segment_seconds,
    scrub: auditScrub,
    ...(config.audit.origin ? { origin: config.audit.origin } : {}),
    // Outside the store: a store rolled back or rewritten no longer extends it, and start is refused.
    publishedFile: join(config.state_dir, 'audit.published'),
    // …and the checkpoints the witnesses cosigned: a store rolled back with its published file too
    // is still caught. A witness that cannot be asked is a warning, and the local check stands.
    ...(config.audit.witnesses?.length ? {
      witnessed: async (origin: string) => {
        const asked = await cosignedCheckpoints(config.audit.witnesses!, origin);
        for (const why of asked.unreachable) logger.log('warn', 'audit start check: a witness could not be asked; checked against the published checkpoint alone', { reason: why });
        return asked.checkpoints;
      },
    } : {}),
    // Rotated-out public keys kept in the state folder: the one that signed the last checkpoint is vouched for in the log.
    previousKeys,
    ...(opts.acceptAuditStore !== undefined ? { override: opts.acceptAuditStore } : {}),
  });
  let bundleSource: () => WatchStatus[] | Promise<WatchStatus[]> = () => [];
  let reporting: Reporting | undefined;
  try {
    // Every serving process watches the same source: reports tell the first one's bundle.
    reporting = await openReporting(config, audit, logger, async () => (await bundleSource())[0]);
  } catch (err) {
    await audit.close();
    throw new StartupError(`cannot start decision logs or status reports: ${(err as Error).message}`, { cause: err });
  }
  const targets = config.audit.witnesses ?? [];
  const witnesses = targets.length === 0 ? null : new WitnessSubmitter(audit, targets, {
    quorum: config.audit.witness_quorum ?? targets.length,
    onRefused: (w, treeSize) => logger.log('error', 'audit witness refused a checkpoint: this log may have been rolled back or forked', { witness: w.name, url: w.url, tree_size: treeSize, reason: w.last_error }),
  });
  const authenticator = createAuthenticator(identityOptions(config.identity, opts.jwks));
  let holds: HoldService;
  let cluster: ClusterNode | null = null;
  try {
    cluster = await joinCluster(config, logger);
    holds = await HoldService.open({
      backend: cluster?.holds,
      // The audit log records the holds stage's events as they are (same shape).
      audit: async (event) => {
        await audit.append(event);
      },
      dir: holdsDir(config),
      waitSeconds: config.holds.wait_seconds,
      maxPendingPerIdentity: config.holds.max_pending_per_identity,
      maxPendingTotal: config.holds.max_pending,
      webhookUrl: config.holds.webhook_url,
      // Approvers, the CLI and the webhook see a held path with its card data masked.
      shownPath: shownTarget,
    });
  } catch (err) {
    await cluster?.close();
    authenticator.close();
    await reporting?.close();
    await audit.close();
    throw err;
  }
  // One archiver, one interface: the folder on a single node, the cluster store on a cluster node
  // (the config refuses both at once).
  const archive = cluster
    ? cluster.archive(audit.origin, [{ kid: key.keyId, key: createPublicKey(key.privateKey) }, ...previousKeys])
    : config.audit.archive ? new FolderArchive(config.audit.archive.dir) : null;
  const archiver = archive
    ? await Archiver.start(audit, archive, {
      retainLive: config.audit.retain_live,
      retainArchiveDays: config.audit.retain_archive_days,
      log: (level, message, fields) => logger.log(level, message, fields as Record<string, string | number | null>),
    })
    : null;
  if (archiver) cluster?.reportArchive(() => archiver.stats());
  const ops = new OpsMetrics({ audit, holds, authenticator, archiver });
  // The console's auditors' view reads this same log, with its archive as one log; the holds service
  // audits each view through `audit` above. It trusts the gateway's own key and the rotation chain
  // the log records, not every key file in the state folder.
  const views = auditViews(config.audit.dir, () => stateTrust(config.state_dir), archive);
  const signIn = consoleSignIn(config, authenticator);
  const mounts: AdminMount[] = [
    ...(signIn ? [signIn.mount] : []),
    // A console session (cookie, CSRF token on state changes) first; else the caller's bearer token.
    createHoldsApi(holds, async (req) => signIn?.authenticate(req) ?? authenticator.authenticate(req.headers), views),
    ...(opts.adminMounts ?? []),
  ];
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
    ops,
    bundlesFrom: (source) => {
      bundleSource = source;
      ops.bundlesFrom(source);
      void reporting?.reportStatus();
    },
    cluster,
    witnesses,
    auditMetrics: () => (witnesses ? witnessMetrics(witnesses.lag()) : ''),
    close: async (started) => {
      await holds.close();
      authenticator.close();
      if (started) await audit.append({ type: 'gateway.stop', version: VERSION, reason: 'stopped' }).catch(() => undefined);
      await reporting?.close();
      await audit.close();
      // After the log: closing it seals the last segment, which the archiver stores before the log closes.
      await cluster?.close();
    },
  };
}

/** Records `gateway.start`; a log that cannot be written must not keep the gateway from starting (requests then get 503). */
export async function recordStart(audit: AuditSink, logger: Logger): Promise<void> {
  await audit.append({ type: 'gateway.start', version: VERSION, reason: null }).catch((err: unknown) => {
    logger.log('error', 'the audit log cannot be written; requests will be refused', { error: (err as Error).message });
  });
}

/** The console's sign-in through the identity provider, when `admin.console` configures it. */
function consoleSignIn(config: GatewayConfig, authenticator: Authenticator): ConsoleSignIn | null {
  const c = config.admin.console;
  if (!c) return null;
  return new ConsoleSignIn({
    issuer: config.identity.issuer,
    clientId: c.client_id,
    discoveryUrl: c.discovery_url ?? `${config.identity.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    sessionSeconds: c.session_seconds,
    verifyIdToken: (idToken) => authenticator.authenticate({ authorization: `Bearer ${idToken}` }),
  });
}
