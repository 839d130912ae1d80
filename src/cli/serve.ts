import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/index.js';
import { startGateway, type RunningGateway } from '../proxy/start.js';
import { UsageError } from './exit.js';

interface Args {
  config: string;
}

/** Stops the gateway on SIGTERM/SIGINT (draining in-flight requests) and exits; a second signal exits at once. */
export function stopOnSignals(running: { stop(): Promise<void> }): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`regate: ${signal}: draining in-flight requests\n`);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      running.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

/** `regate serve --config FILE`: the gateway as operators run it. */
export const serveCommand: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'Run the gateway from a YAML config file',
  builder: (y) =>
    y
      .option('config', { type: 'string', demandOption: true, describe: 'The config file (keys documented in docs/config.md)' })
      .example('$0 serve --config regate.yaml', 'validate the config, load the signed bundle, listen')
      .epilogue('A bad config exits 2 naming the key at fault. SIGTERM drains in-flight requests, then exits.'),
  handler: async (args) => {
    let running: RunningGateway;
    try {
      running = await startGateway(await loadConfig(args.config));
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message, { cause: err });
      throw err;
    }
    process.stderr.write(`regate ready ${running.url} (admin ${running.adminUrl})\n`);
    await stopOnSignals(running);
    process.exit(0);
  },
};
