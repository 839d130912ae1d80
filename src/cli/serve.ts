import cluster from 'node:cluster';
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig, type GatewayConfig } from '../config/index.js';
import { checkGatewayConfig, runWorker, startCluster, startGateway } from '../app/index.js';
import { UsageError, VerificationFailed } from './exit.js';
import { report } from './output.js';

interface Args {
  config?: string;
  workers?: number;
  check: boolean;
  json?: boolean;
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
      .option('check', { type: 'boolean', default: false, describe: 'Check the config, the files and keys it names, the bundle, the upstreams and the ports; print every problem and exit (0: none)' })
      .option('workers', { type: 'number', describe: 'Worker processes sharing the client port (overrides the config\'s `workers`, default 1)' })
      .option('accept-audit-store', { type: 'string', describe: 'Start although the audit store does not extend the checkpoint last published (rolled back, truncated, rewritten); the reason given is recorded in the log' })
      .example('$0 serve --config regate.yaml', 'validate the config, load the signed bundle, listen')
      .example('$0 serve --check --config regate.yaml', 'validate everything the gateway needs, then exit (CI, before a deploy)')
      .example('REGATE_CONFIG=/etc/regate/regate.yaml $0 serve', 'the config file named by the environment (containers, systemd)')
      .example('$0 serve --config regate.yaml --workers 4', 'four workers on one port, one audit log written by the primary')
      .epilogue('A bad config exits 2 naming the key at fault. SIGTERM drains in-flight requests (every worker), then seals the audit log and exits.'),
  handler: async (args) => {
    const file = args.config ?? process.env.REGATE_CONFIG;
    if (!file) throw new UsageError('name the config file with --config FILE or the REGATE_CONFIG environment variable');
    if (args.check) {
      const { checked, problems } = await checkGatewayConfig(file);
      const text = problems.length
        ? `${problems.map((p) => `problem: ${p}`).join('\n')}\n${problems.length} problem${problems.length > 1 ? 's' : ''} found in ${file}`
        : `${checked.map((c) => `ok: ${c}`).join('\n')}\n${file}: no problems found`;
      if (problems.length) {
        if (!args.json) process.stderr.write(`${text}\n`);
        const count = `${problems.length} problem${problems.length > 1 ? 's' : ''} found in ${file}`;
        throw new VerificationFailed(args.json ? `${count}: ${problems.join('; ')}` : count, { report: { config: file, checked, problems } });
      }
      return report(args.json, text, { config: file, checked });
    }
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
    const reason = args['accept-audit-store'];
    if (reason !== undefined && (typeof reason !== 'string' || reason.trim() === '')) throw new UsageError('--accept-audit-store needs a reason (it is recorded in the audit log)');
    const start = reason !== undefined ? { acceptAuditStore: reason as string } : {};
    const running = workers > 1 ? await startCluster(config, workers, start) : await startGateway(config, start);
    await stopOnSignals(running, () => {
      process.stderr.write(`regate ready ${running.url} (admin ${running.adminUrl})\n`);
      // For a script that starts the gateway: where it listens, on stdout, once it does.
      if (args.json) report(true, '', { url: running.url, admin_url: running.adminUrl, workers });
    });
    process.exit(0);
  },
};
