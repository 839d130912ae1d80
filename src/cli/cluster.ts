/**
 * `regate cluster migrate|status`: the operator's side of the cluster store (docs/cluster.md).
 * Both read `cluster.postgres` from the gateway's own config file, so they reach the store the
 * way the nodes do (same password file, same TLS settings).
 */
import type { Argv, CommandModule } from 'yargs';
import { clusterStatus, formatStatus, migrate, openPool, type ClusterPostgresOptions } from '../cluster-store/index.js';
import { ConfigError, loadConfig, type GatewayConfig } from '../config/index.js';
import { UsageError } from './exit.js';
import { report, verdict } from './output.js';

interface Args { config: string; json?: boolean }

/** The gateway config in `file`; one that cannot be read or is not valid is a usage error naming the file and key. */
export async function gatewayConfigOf(file: string): Promise<GatewayConfig> {
  try {
    return await loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

export async function postgresOf(file: string): Promise<ClusterPostgresOptions> {
  const config = await gatewayConfigOf(file);
  if (!config.cluster) throw new UsageError(`${file} has no \`cluster.postgres\` section: this gateway runs alone on LMDB and has no cluster store`);
  return config.cluster.postgres;
}

const migrateCommand: CommandModule<object, Args> = {
  command: 'migrate',
  describe: 'Create or upgrade the cluster store\'s schema (idempotent; refuses a newer schema)',
  builder: (y) => y.option('config', { type: 'string', demandOption: true, describe: 'The gateway config file naming cluster.postgres' }),
  handler: async (args) => {
    const pool = openPool(await postgresOf(args.config));
    try {
      const r = await migrate(pool);
      const text = r.applied.length === 0
        ? `cluster store schema is at version ${r.to}: nothing to do`
        : `${r.applied.map((m) => `applied migration ${m.version}: ${m.name}\n`).join('')}cluster store schema is at version ${r.to} (was ${r.from})`;
      report(args.json, text, { from: r.from, to: r.to, applied: r.applied.map((m) => ({ version: m.version, name: m.name })) });
    } finally {
      await pool.end().catch(() => undefined);
    }
  },
};

const statusCommand: CommandModule<object, Args> = {
  command: 'status',
  describe: 'Show the cluster store\'s health, every node (alive, view lag, usage, audit backlog) and the audit archive',
  builder: (y) =>
    y.option('config', { type: 'string', demandOption: true, describe: 'The gateway config file naming cluster.postgres' }),
  handler: async (args) => {
    const status = await clusterStatus(await postgresOf(args.config));
    verdict(args.json, formatStatus(status), { ...status }, status.store.reachable ? undefined : `the cluster store is unreachable: ${status.store.error}`);
  },
};

export const clusterCommand: CommandModule = {
  command: 'cluster',
  describe: 'Operate the cluster store shared by several regate nodes (PostgreSQL)',
  builder: (y: Argv) => y.command(migrateCommand).command(statusCommand).demandCommand(1, 'Name a cluster command: migrate or status.'),
  handler: () => undefined,
};
