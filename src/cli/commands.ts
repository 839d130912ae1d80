/**
 * The command table: one yargs module per file in this folder. `regate --help` lists them in this
 * order, so keep it the order a new user meets them.
 */
import type { CommandModule } from 'yargs';
import { toolchainCommand } from './toolchain.js';
import { auditCommand } from './audit.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [toolchainCommand, auditCommand];
