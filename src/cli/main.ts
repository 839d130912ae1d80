#!/usr/bin/env node
/**
 * The `regate` command line. Each command lives in its own module (see commands.ts); this file only
 * wires yargs: strict parsing, exit 2 on usage errors, one clear sentence on failure, never a stack
 * trace for an error we raised on purpose.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { RegateError, VERSION } from '../util/index.js';
import { commands } from './commands.js';
import { exitCodeFor, VerificationFailed } from './exit.js';
import { failureJson } from './output.js';

export async function main(argv: string[]): Promise<void> {
  // Known before parsing, so that even a usage error is reported as JSON when asked for.
  const json = argv.includes('--json');
  const cli = yargs(argv)
    .scriptName('regate')
    .usage('$0 <command> [options]\n\nPolicy-as-code gateway for inference APIs that handle cardholder data.')
    .command(commands)
    .demandCommand(1, 'Name a command; `regate --help` lists them.')
    .recommendCommands()
    .strict()
    .option('json', { type: 'boolean', global: true, describe: 'Print the result, or the failure, as one JSON document on stdout' })
    .completion('completion', 'Print a bash/zsh completion script: regate completion >> ~/.bashrc')
    .help()
    .alias('help', 'h')
    // regate's own version, not the version of the project that installed it.
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      if (json) process.stdout.write(failureJson('ERR_USAGE', msg, 2));
      process.stderr.write(`regate: ${msg}\nRun \`regate --help\` for usage.\n`);
      process.exit(2);
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    const message = err instanceof RegateError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`regate: ${message}\n`);
    process.exitCode = exitCodeFor(err);
    if (json) {
      const code = err instanceof RegateError ? err.code : 'ERR_INTERNAL';
      process.stdout.write(failureJson(code, err instanceof Error ? err.message : String(err), process.exitCode, err instanceof VerificationFailed ? err.report : undefined));
    }
  }
}

await main(hideBin(process.argv));
