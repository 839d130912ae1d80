import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { DEFAULT_CAPABILITIES, DEFAULT_ENTRYPOINT, DEFAULT_KEY_ID } from '../policy/index.js';
import { buildPolicy, checkBuild, updateCapabilities, type BuildPaths } from '../policy-build/index.js';
import { readText } from './bundle.js';
import { UsageError, VerificationFailed } from './exit.js';
import { report } from './output.js';

interface Args {
  rego: string;
  out: string;
  wasm: string;
  capabilities: string;
  entrypoint: string;
  'signing-key'?: string;
  'signing-alg'?: string;
  'key-id': string;
  scope?: string;
  check: boolean;
  'update-capabilities': boolean;
  json?: boolean;
}

/** `regate build`: Rego → Wasm → bundle (signed with --signing-key), or --check the committed build. */
export const buildCommand: CommandModule<object, Args> = {
  command: 'build',
  describe: 'Compile rego/ to wasm/pci.wasm and bundles/pci.tar.gz (or check the committed build)',
  builder: (y) =>
    y
      .option('rego', { type: 'string', default: 'rego', describe: 'Policy source folder (*.rego and data.json), relative to the working directory' })
      .option('out', { type: 'string', default: 'bundles/pci.tar.gz', describe: 'Bundle to write' })
      .option('wasm', { type: 'string', default: 'wasm/pci.wasm', describe: 'Compiled module to write' })
      .option('capabilities', { type: 'string', default: DEFAULT_CAPABILITIES, defaultDescription: "regate's wasm/capabilities.json: the builtins this gateway runs", describe: 'Capabilities file the compiler is held to' })
      .option('entrypoint', { type: 'string', default: DEFAULT_ENTRYPOINT, describe: 'Rule the module exports' })
      .option('signing-key', { type: 'string', describe: 'PEM private key: sign the bundle (.signatures.json)' })
      .option('signing-alg', { type: 'string', describe: 'JWS algorithm (default from the key: RS256, ES256..., EdDSA)' })
      .option('key-id', { type: 'string', default: DEFAULT_KEY_ID, describe: 'Key id ("kid") the signature names' })
      .option('scope', { type: 'string', describe: 'Scope claim to put in the signature' })
      .option('check', { type: 'boolean', default: false, describe: 'Write nothing; exit 1 if the committed build differs from a rebuild' })
      .option('update-capabilities', { type: 'boolean', default: false, describe: 'Regenerate the capabilities file from the pinned compiler first' })
      .example('$0 build', 'rebuild wasm/pci.wasm and bundles/pci.tar.gz from rego/')
      .example('$0 build --signing-key bundle-key.pem --out /tmp/pci-signed.tar.gz', 'build a signed bundle')
      .example('$0 build --check', 'CI: fail if the committed module, data or manifest no longer match rego/')
      .example('$0 build --update-capabilities', 'regenerate wasm/capabilities.json, then build'),
  handler: async (args) => {
    // Relative paths name files of the policy repository the command runs in, never regate's own.
    const paths: BuildPaths = { regoDir: resolve(args.rego), wasmOut: resolve(args.wasm), bundleOut: resolve(args.out), capabilities: resolve(args.capabilities), entrypoint: args.entrypoint };
    if (args.check) {
      if (args['signing-key'] || args['update-capabilities']) throw new UsageError('--check writes nothing, so it takes neither --signing-key nor --update-capabilities');
      const faults = await checkBuild(paths);
      if (faults.length) throw new VerificationFailed(`the committed build does not match its source: ${faults.join('; ')}; run \`regate build\` and commit the result`);
      return report(args.json, 'build check: committed capabilities, module, data and manifest match a rebuild', { check: 'match', rego: paths.regoDir, wasm: paths.wasmOut, bundle: paths.bundleOut });
    }
    if (args['update-capabilities']) {
      await updateCapabilities(args.capabilities);
      if (!args.json) process.stdout.write(`wrote ${args.capabilities}\n`);
    }
    let signing;
    if (args['signing-key']) {
      const privateKeyPem = await readText(args['signing-key'], '--signing-key');
      signing = { privateKeyPem, alg: args['signing-alg'], keyId: args['key-id'], scope: args.scope };
    }
    const built = await buildPolicy(paths, signing);
    report(args.json, `wrote ${paths.wasmOut} and ${paths.bundleOut} (revision ${built.revision}${signing ? ', signed' : ''})`, {
      wasm: paths.wasmOut, bundle: paths.bundleOut, revision: built.revision, signed: Boolean(signing),
    });
  },
};
