import cluster from 'node:cluster';
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig, type GatewayConfig } from '../config/index.js';
import { runWorker, startCluster, startGateway } from '../app/index.js';
import { UsageError } from './exit.js';

interface Args {
  config?: string;
  workers?: number;
}

/**
 * Stops the gateway on SIGTERM/SIGINT (draining in-flight requests); a second signal exits at once.
 * `announce` (the ready line) runs once the handlers are in place: a supervisor that signals as soon
 * as it reads the line must find the drain there, not the default action (killed mid-request).
 */
export function stopOnSignals(running: { stop(): Promise<void> }, announce: () => void): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`regate: ${signal}: draining in-flight requests\n`);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      running.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    announce();
  });
}

/** `regate serve --config FILE`: the gateway as operators run it. */
export const serveCommand: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'Run the gateway from a YAML config file',
  builder: (y) =>
    y
      .option('config', { type: 'string', describe: 'The config file (keys documented in docs/config.md); default $REGATE_CONFIG' })
      .option('workers', { type: 'number', describe: 'Worker processes sharing the client port (overrides the config\'s `workers`, default 1)' })
      .example('$0 serve --config regate.yaml', 'validate the config, load the signed bundle, listen')
      .example('REGATE_CONFIG=/etc/regate/regate.yaml $0 serve', 'the config file named by the environment (containers, systemd)')
      .example('$0 serve --config regate.yaml --workers 4', 'four workers on one port, one audit log written by the primary')
      .epilogue('A bad config exits 2 naming the key at fault. SIGTERM drains in-flight requests (every worker), then seals the audit log and exits.'),
  handler: async (args) => {
    const file = args.config ?? process.env.REGATE_CONFIG;
    if (!file) throw new UsageError('name the config file with --config FILE or the REGATE_CONFIG environment variable');
    let config: GatewayConfig;
    try {
      config = await loadConfig(file);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message, { cause: err });
      throw err;
    }
    if (cluster.isWorker) return runWorker(config);
    const workers = args.workers ?? config.workers;
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers: expected an integer from 1 to 256, got ${args.workers}`);
    const running = workers > 1 ? await startCluster(config, workers) : await startGateway(config);
    await stopOnSignals(running, () => process.stderr.write(`regate ready ${running.url} (admin ${running.adminUrl})\n`));
    process.exit(0);
  },
};
