/**
 * `regate witness serve`: a C2SP tlog-witness for regate audit logs (or any log signing C2SP
 * checkpoints with Ed25519), as its own process with its own key and store. `regate witness key`
 * prints its cosignature verifier key without serving.
 */
import type { CommandModule } from 'yargs';
import { verifierKey } from '../audit/index.js';
import { loadOrCreateWitnessKey, serveWitness, WitnessConfigError, WitnessStoreError } from '../witness/index.js';
import { UsageError } from './exit.js';
import { report } from './output.js';
import { stopOnSignals } from './serve.js';

interface ServeArgs {
  dir: string;
  name: string;
  listen: string;
  log: string[];
  json?: boolean;
}

const serve: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'Cosign checkpoints of the named logs that extend what this witness cosigned before',
  builder: (y) =>
    y
      .option('dir', { type: 'string', demandOption: true, describe: "The witness's folder: its key (witness.key.pem), state.json and alarms.jsonl" })
      .option('name', { type: 'string', demandOption: true, describe: 'Its name, a schema-less URL without spaces or + (e.g. witness.example/w1)' })
      .option('listen', { type: 'string', default: '127.0.0.1:0', describe: 'host:port to listen on (port 0: any free port)' })
      .option('log', { type: 'string', array: true, demandOption: true, describe: "A log's verifier key, as `regate audit key` prints it (repeatable)" })
      .example('$0 witness serve --dir /var/lib/witness --name witness.example/w1 --listen 127.0.0.1:7380 --log "$(regate audit key --state .regate | sed -n s/^verifier\\ key:\\ //p)"', 'witness the demo log'),
  handler: async (a) => {
    const m = /^(.+):(\d+)$/.exec(a.listen);
    if (!m) throw new UsageError(`--listen ${a.listen}: expected host:port`);
    let running;
    try {
      running = await serveWitness({ dir: a.dir, name: a.name, host: m[1]!, port: Number(m[2]), logs: a.log });
    } catch (err) {
      if (err instanceof WitnessConfigError || err instanceof WitnessStoreError) throw new UsageError(err.message, { cause: err });
      throw err;
    }
    await stopOnSignals({ stop: running.close }, () => {
      process.stderr.write(`regate witness ready ${running.url} (verifier key ${running.verifierKey})\n`);
      // For a script that starts the witness: where it listens, on stdout, once it does.
      if (a.json) report(true, '', { name: a.name, url: running.url, verifier_key: running.verifierKey });
    });
    process.exit(0);
  },
};

const key: CommandModule<object, { dir: string; name: string; json?: boolean }> = {
  command: 'key',
  describe: "Print the witness's cosignature verifier key (creating its key when missing)",
  builder: (y) => y.option('dir', { type: 'string', demandOption: true }).option('name', { type: 'string', demandOption: true }),
  handler: (a) => {
    const vkey = verifierKey(a.name, loadOrCreateWitnessKey(a.dir), 0x04);
    report(a.json, vkey, { name: a.name, verifier_key: vkey });
  },
};

/** `regate witness <subcommand>` */
export const witnessCommand: CommandModule = {
  command: 'witness',
  describe: 'Run a transparency-log witness that cosigns audit checkpoints (C2SP tlog-witness)',
  builder: (y) => y.command(serve).command(key).demandCommand(1, 'Name a witness command: serve or key.'),
  handler: () => undefined,
};
