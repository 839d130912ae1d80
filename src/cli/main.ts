#!/usr/bin/env node
/**
 * The `regate` command line. Each command lives in its own module (see commands.ts); this file only
 * wires yargs: strict parsing, exit 2 on usage errors, one clear sentence on failure, never a stack
 * trace for an error we raised on purpose.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { RegateError } from '../util/errors.js';
import { commands } from './commands.js';
import { exitCodeFor } from './exit.js';

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('regate')
    .usage('$0 <command> [options]\n\nPolicy-as-code gateway for inference APIs that handle cardholder data.')
    .command(commands)
    .demandCommand(1, 'Name a command; `regate --help` lists them.')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`regate: ${msg}\nRun \`regate --help\` for usage.\n`);
      process.exit(2);
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    const message = err instanceof RegateError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`regate: ${message}\n`);
    process.exitCode = exitCodeFor(err);
  }
}

await main(hideBin(process.argv));
