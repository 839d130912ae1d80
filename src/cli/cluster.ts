/**
 * `regate cluster migrate|status`: the operator's side of the cluster store (docs/cluster.md).
 * Both read `cluster.postgres` from the gateway's own config file, so they reach the store the
 * way the nodes do (same password file, same TLS settings).
 */
import type { Argv, CommandModule } from 'yargs';
import { clusterStatus, formatStatus, migrate, openPool, type ClusterPostgresOptions } from '../cluster-store/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { UsageError, VerificationFailed } from './exit.js';

interface Args { config: string; json?: boolean }

export async function postgresOf(file: string): Promise<ClusterPostgresOptions> {
  let config;
  try {
    config = await loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
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
      if (r.applied.length === 0) process.stdout.write(`cluster store schema is at version ${r.to}: nothing to do\n`);
      for (const m of r.applied) process.stdout.write(`applied migration ${m.version}: ${m.name}\n`);
      if (r.applied.length > 0) process.stdout.write(`cluster store schema is at version ${r.to} (was ${r.from})\n`);
    } finally {
      await pool.end().catch(() => undefined);
    }
  },
};

const statusCommand: CommandModule<object, Args> = {
  command: 'status',
  describe: 'Show the cluster store\'s health, every node (alive, view lag, usage, audit backlog) and the audit archive',
  builder: (y) =>
    y.option('config', { type: 'string', demandOption: true, describe: 'The gateway config file naming cluster.postgres' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the status as JSON' }),
  handler: async (args) => {
    const status = await clusterStatus(await postgresOf(args.config));
    process.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
    if (!status.store.reachable) throw new VerificationFailed(`the cluster store is unreachable: ${status.store.error}`);
  },
};

export const clusterCommand: CommandModule = {
  command: 'cluster <command>',
  describe: 'Operate the cluster store shared by several regate nodes (PostgreSQL)',
  builder: (y: Argv) => y.command(migrateCommand).command(statusCommand).demandCommand(1),
  handler: () => undefined,
};
