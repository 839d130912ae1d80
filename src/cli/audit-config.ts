/**
 * `--config FILE` (or REGATE_CONFIG) on the audit commands: the log, its archive and the keys are
 * taken from the gateway's own config, so an operator reads live + archive as one log without
 * knowing where each is kept: the state folder (the keys trusted, as `--state`), `audit.dir`, and
 * `audit.archive.dir` or, on a cluster node, the cluster store (`cluster.postgres`), which archives
 * this node's log under its origin. Flags given on the command line win over what the config says.
 */
import { statSync } from 'node:fs';
import { FolderArchive, prunedThrough, type AuditArchive, type Store } from '../audit/index.js';
import { describeTarget, lastArchived, openPool, PostgresArchive, type ClusterPostgresOptions } from '../cluster-store/index.js';
import { gatewayConfigOf } from './cluster.js';
import { UsageError } from './exit.js';

/** The arguments that say where a log is; applyConfig fills in what the config adds. */
export interface LogLocation {
  dir?: string;
  state?: string;
  archive?: string;
  config?: string;
  key?: string[];
  files?: string[];
  cluster?: string;
  /** Set by applyConfig: the config file read, the state folder taken from it, its cluster store. */
  configFile?: string;
  stateFromConfig?: boolean;
  archiveFromConfig?: boolean;
  clusterArchive?: ClusterPostgresOptions;
}

/**
 * Reads the config named by --config, or by REGATE_CONFIG when `useEnv` and nothing on the command
 * line names a log (--dir, --state, export files, --cluster), and fills in the log's place from it.
 */
export async function applyConfig(a: LogLocation, useEnv: boolean): Promise<void> {
  const named = Boolean(a.dir || a.state || (a.files && a.files.length > 0) || a.cluster);
  const file = a.config ?? (useEnv && !named && process.env.REGATE_CONFIG ? process.env.REGATE_CONFIG : undefined);
  if (file === undefined) return;
  const config = await gatewayConfigOf(file);
  a.configFile = file;
  // `verify --cluster` with no value: the cluster store this config names.
  if (a.cluster === '') a.cluster = file;
  if (!a.state) {
    a.state = config.state_dir;
    a.stateFromConfig = true;
  }
  // Export files are verified with the config's keys, but read from the files alone.
  if (a.files && a.files.length > 0) return;
  if (!a.dir) a.dir = config.audit.dir;
  if (a.archive === undefined) {
    if (config.audit.archive) {
      a.archive = config.audit.archive.dir;
      a.archiveFromConfig = true;
    } else if (config.cluster) a.clusterArchive = config.cluster.postgres;
  }
}

export interface OpenedArchive {
  archive: AuditArchive | null;
  close(): Promise<void>;
}

const none: OpenedArchive = { archive: null, close: async () => undefined };

/**
 * The archive to read with `store`: the folder (--archive or audit.archive.dir) or this node's log
 * in the cluster store. While the store was never pruned it holds the whole log and no archive is
 * needed (none is opened, so a cluster store that is down does not matter); once pruned, an
 * archive that is not there is a precise usage error rather than a log that seems to start late.
 */
export async function openArchive(a: LogLocation, store: Store): Promise<OpenedArchive> {
  const pruned = prunedThrough(store);
  const why = `the live store ${store.dir} was pruned through segment ${pruned}, so its older segments are read from the archive`;
  if (a.archive !== undefined) {
    const named = a.archiveFromConfig ? `audit.archive.dir in ${a.configFile}` : '--archive';
    let isFolder: boolean | null;
    try {
      isFolder = statSync(a.archive).isDirectory();
    } catch {
      isFolder = null;
    }
    if (isFolder === false) throw new UsageError(`the archive ${a.archive} (${named}) is not a folder: name the archive folder (audit.archive.dir) with --archive DIR`);
    if (isFolder === null && pruned >= 0) throw new UsageError(`the archive folder ${a.archive} (${named}) is not there, but ${why}: mount the archive volume at ${a.archive}, or name where it is with --archive DIR`);
    const archive = new FolderArchive(a.archive);
    return { archive, close: () => archive.close() };
  }
  if (a.clusterArchive === undefined || pruned < 0) return none;
  const origin = store.meta.get('origin') as string | undefined;
  const source = `cluster.postgres in ${a.configFile}`;
  if (origin === undefined) throw new UsageError(`the audit log at ${store.dir} names no origin, so its archived segments cannot be found in the cluster store (${source})`);
  const target = describeTarget(a.clusterArchive.url);
  const pool = openPool(a.clusterArchive);
  const close = () => pool.end().catch(() => undefined);
  try {
    const held = await lastArchived(pool, origin);
    if (held === null) throw new UsageError(`the cluster store ${target} (${source}) holds no archived segment of the log ${origin}, but ${why}: is ${a.configFile} this node's config?`);
  } catch (err) {
    await close();
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the archive in the cluster store ${target} (${source}), and ${why}: ${(err as Error).message}`, { cause: err });
  }
  return { archive: new PostgresArchive(pool, { origin, node: 'audit-reader', keys: [], target }), close };
}
