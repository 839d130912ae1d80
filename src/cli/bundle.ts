import { readFile, writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { BundleError, DEFAULT_KEY_ID, openBundle, signBundle } from '../policy/index.js';
import { UsageError, VerificationFailed } from './exit.js';
import { report } from './output.js';

interface VerifyArgs { path: string; key: string; 'key-id': string; scope?: string; json?: boolean }
interface SignArgs { path: string; key: string; out?: string; 'key-id': string; scope?: string; alg?: string; json?: boolean }

/** Reads a file the user named on the command line; a missing or unreadable one is a usage error. */
export async function readBytes(path: string, what: string): Promise<Buffer> {
  return readFile(path).catch((err: Error) => {
    throw new UsageError(`cannot read ${what} ${path}: ${err.message}`);
  });
}

export async function readText(path: string, what: string): Promise<string> {
  return (await readBytes(path, what)).toString('utf8');
}

const verify: CommandModule<object, VerifyArgs> = {
  command: 'verify <path>',
  describe: "Verify a bundle's signature per OPA's signing spec (exit 0 valid, 1 not)",
  builder: (y) =>
    y
      .positional('path', { type: 'string', demandOption: true, describe: 'Bundle (.tar.gz)' })
      .option('key', { type: 'string', demandOption: true, describe: 'PEM public key' })
      .option('key-id', { type: 'string', default: DEFAULT_KEY_ID, describe: 'Key id the signature must name' })
      .option('scope', { type: 'string', describe: 'Scope the signature must carry' })
      .example('$0 bundle verify bundles/pci.tar.gz --key bundle-pub.pem', 'check every file is signed and unchanged'),
  handler: async (args) => {
    const publicKeyPem = await readText(args.key, '--key');
    try {
      const b = await openBundle(args.path, { publicKeyPem, keyId: args['key-id'], scope: args.scope });
      report(args.json, `${args.path}: signature valid (key id ${args['key-id']}); ${b.files.size - 1} files verified, revision ${b.manifest.revision || '(none)'}`, {
        bundle: args.path, key_id: args['key-id'], scope: args.scope ?? null, files_verified: b.files.size - 1, revision: b.manifest.revision || null,
      });
    } catch (err) {
      if (err instanceof BundleError) throw new VerificationFailed(`${args.path}: ${err.message}`, { cause: err });
      throw err;
    }
  },
};

const sign: CommandModule<object, SignArgs> = {
  command: 'sign <path>',
  describe: 'Sign a bundle (writes .signatures.json covering every file)',
  builder: (y) =>
    y
      .positional('path', { type: 'string', demandOption: true, describe: 'Bundle (.tar.gz)' })
      .option('key', { type: 'string', demandOption: true, describe: 'PEM private key (RSA, EC P-256/384/521 or Ed25519)' })
      .option('out', { type: 'string', describe: 'Where to write the signed bundle (default: in place)' })
      .option('key-id', { type: 'string', default: DEFAULT_KEY_ID })
      .option('scope', { type: 'string' })
      .option('alg', { type: 'string', describe: 'JWS algorithm (default from the key)' })
      .example('$0 bundle sign bundles/pci.tar.gz --key bundle-key.pem --out /tmp/pci-signed.tar.gz', 'sign a copy of the committed bundle'),
  handler: async (args) => {
    const privateKeyPem = await readText(args.key, '--key');
    const bytes = await readBytes(args.path, 'bundle');
    const signed = await signBundle(bytes, { privateKeyPem, keyId: args['key-id'], scope: args.scope, alg: args.alg });
    await writeFile(args.out ?? args.path, signed);
    report(args.json, `wrote ${args.out ?? args.path} (signed, key id ${args['key-id']})`, { bundle: args.out ?? args.path, key_id: args['key-id'], scope: args.scope ?? null });
  },
};

/** `regate bundle verify|sign`. */
export const bundleCommand: CommandModule = {
  command: 'bundle',
  describe: 'Verify or sign policy bundles (OPA bundle signing)',
  builder: (y: Argv) => y.command(verify).command(sign).demandCommand(1, 'Name a bundle command: verify or sign.'),
  handler: () => undefined,
};
