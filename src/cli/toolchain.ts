import type { CommandModule } from 'yargs';
import { findOpa, OPA_VERSION, opaCacheDir } from '../policy-build/index.js';
import { report } from './output.js';

interface Args { check: boolean; json?: boolean }

/** `regate toolchain`: install (or just check) the pinned OPA compiler and print its path. */
export const toolchainCommand: CommandModule<object, Args> = {
  command: 'toolchain',
  describe: `Install or check the pinned OPA compiler (${OPA_VERSION})`,
  builder: (y) =>
    y
      .option('check', { type: 'boolean', default: false, describe: 'Only check; never install' })
      .example('$0 toolchain', `install OPA ${OPA_VERSION} into ${opaCacheDir()} (needs Go) unless present`)
      .example('OPA_BIN=/usr/local/bin/opa $0 toolchain --check', 'check that a given opa is the pinned version')
      .epilogue('OPA_BIN overrides the cache; XDG_CACHE_HOME moves it.'),
  handler: async (args) => {
    const bin = await findOpa({ install: !args.check });
    report(args.json, bin, { opa: bin, version: OPA_VERSION });
  },
};
