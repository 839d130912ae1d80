import type { Argv, CommandModule } from 'yargs';
import { text } from 'node:stream/consumers';
import { DEFAULT_ENTRYPOINT, loadBundle } from '../policy/index.js';
import { readBytes, readText } from './bundle.js';
import { UsageError } from './exit.js';
import { report } from './output.js';
import { diffCommand } from './policy-diff.js';

interface EvalArgs { bundle: string; input: string; key?: string; entrypoint: string; json?: boolean }

const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'Evaluate a bundle on one input and print the decision JSON',
  builder: (y) =>
    y
      .option('bundle', { type: 'string', default: 'bundles/pci.tar.gz', describe: 'Bundle to load, relative to the working directory' })
      .option('input', { type: 'string', demandOption: true, requiresArg: true, describe: 'Policy input JSON file, or - for stdin' })
      .option('key', { type: 'string', describe: 'PEM public key: verify the bundle signature first' })
      .option('entrypoint', { type: 'string', default: DEFAULT_ENTRYPOINT })
      .example('$0 policy eval --input rego/examples/score.json', 'decide with bundles/pci.tar.gz (`regate init` writes this example input)')
      .example("echo '{...}' | $0 policy eval --bundle signed.tar.gz --key pub.pem --input -", 'verified bundle, input on stdin'),
  handler: async (args) => {
    const raw = args.input === '-' ? await text(process.stdin) : await readText(args.input, '--input');
    let input: unknown;
    try {
      input = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`--input ${args.input} is not valid JSON: ${(err as Error).message}`);
    }
    const publicKeyPem = args.key ? await readText(args.key, '--key') : undefined;
    const bytes = await readBytes(args.bundle, '--bundle');
    const engine = await loadBundle(bytes, { publicKeyPem, entrypoint: args.entrypoint });
    const decision = engine.evaluate(input as Parameters<typeof engine.evaluate>[0]);
    report(args.json, JSON.stringify(decision, null, 2), { revision: engine.revision, decision });
  },
};

/** `regate policy eval` and `regate policy diff`. */
export const policyCommand: CommandModule = {
  command: 'policy',
  describe: 'Evaluate a policy bundle by hand, or diff a candidate policy against recorded traffic',
  builder: (y: Argv) => y.command(evalCommand).command(diffCommand).demandCommand(1, 'Name a policy command: eval, diff.'),
  handler: () => undefined,
};
