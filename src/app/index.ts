/**
 * The composition root and process model: builds each stage's service from the config, joins
 * them into the pipeline and the admin listener, and runs them in one process (`startGateway`) or
 * as a primary with workers (`startCluster`, `runWorker`). Only this folder joins stages.
 */
export { startGateway, type RunningGateway } from './start.js';
export { startCluster } from './cluster.js';
export { runWorker } from './worker.js';
export { StartupError } from './errors.js';
export { openSingletons, type Singletons } from './singletons.js';
export { activate } from './policy-watch.js';
export { auditScrub } from './audit-scrub.js';
export { auditViews } from './audit-views.js';
export { bundleOptions, gatewayOptions, holdsDir, identityOptions, persistedBundlePath, serverLimits, type StartOptions } from './options.js';
export { checkGatewayConfig, type CheckResult } from './check.js';
