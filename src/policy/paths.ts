/**
 * Where the pipeline's committed artefacts live in a regate checkout, resolved from this module's
 * own location (dist/src/policy → the project root) so commands work from any directory.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const DEFAULT_REGO_DIR = join(PROJECT_ROOT, 'rego');
export const DEFAULT_CAPABILITIES = join(PROJECT_ROOT, 'wasm', 'capabilities.json');
/** The default PCI bundle the gateway loads when its config names none. */
export const DEFAULT_BUNDLE = join(PROJECT_ROOT, 'bundles', 'pci.tar.gz');
