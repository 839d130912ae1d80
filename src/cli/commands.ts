/**
 * The command table: one yargs module per file in this folder. `regate --help` lists them in this
 * order, so keep it the order a new user meets them.
 */
import type { CommandModule } from 'yargs';
import { holdsCommand } from './holds.js';
import { initCommand } from './init.js';
import { tokenCommand } from './token.js';
import { toolchainCommand } from './toolchain.js';
import { auditCommand } from './audit.js';
import { clusterCommand } from './cluster.js';
import { buildCommand } from './build.js';
import { testCommand } from './test.js';
import { policyCommand } from './policy.js';
import { bundleCommand } from './bundle.js';
import { demoCommand } from './demo.js';
import { serveCommand } from './serve.js';
import { witnessCommand } from './witness.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [demoCommand, serveCommand, initCommand, toolchainCommand, buildCommand, testCommand, policyCommand, bundleCommand, tokenCommand, holdsCommand, auditCommand, clusterCommand, witnessCommand];
