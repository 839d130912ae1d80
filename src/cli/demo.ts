import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { startDemo } from '../demo/index.js';
import { report } from './output.js';
import { stopOnSignals } from './serve.js';

interface Args {
  port: number;
  'admin-port': number;
  'upstream-port': number;
  state: string;
  json?: boolean;
}

/** `regate demo` (= `npm start`): the gateway on its embedded default, no config needed. */
export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'Run the gateway with a demo model service, a dev identity provider and the PCI policy',
  builder: (y) =>
    y
      .option('port', { type: 'number', default: 8080, describe: 'Gateway port (0 picks a free one)' })
      .option('admin-port', { type: 'number', default: 8081, describe: 'Admin listener port (metrics, JWKS)' })
      .option('upstream-port', { type: 'number', default: 8090, describe: 'Demo inference service port' })
      .option('state', { type: 'string', default: '.regate', describe: 'State folder (dev IdP keys, audit log, holds)' })
      .example('$0 demo', 'start everything on 127.0.0.1 and print a curl command per role')
      .example('$0 demo --port 0 --admin-port 0 --upstream-port 0', 'use free ports'),
  handler: async (args) => {
    const session = await startDemo({
      port: args.port,
      adminPort: args['admin-port'],
      upstreamPort: args['upstream-port'],
      stateDir: resolve(args.state),
      log: process.stderr,
    });
    const state = resolve(args.state);
    await stopOnSignals(session, () =>
      report(args.json, session.banner, { url: session.gateway.url, admin_url: session.gateway.adminUrl, upstream_url: session.service.url, state }));
    process.exit(0);
  },
};
