/**
 * The gateway's side of policy what-if. Every bundle it loads is kept by revision in
 * `<state_dir>/bundle-revisions/`, so `regate policy diff` can decide a recorded decision again
 * with the bundle that made it; and in shadow mode (`policy.shadow`) a second bundle is loaded,
 * verified and watched like the enforced one, for the pipeline's ShadowObserver to decide with.
 */
import { join } from 'node:path';
import type { GatewayConfig } from '../config/index.js';
import { BUNDLE_REVISIONS, saveBundle, watchBundle, type BundleWatcher, type PolicyEngine } from '../policy/index.js';
import type { AuditSink, Logger } from '../proxy/index.js';
import { StartupError } from './errors.js';
import { bundleOptions, serviceOptions } from './options.js';

/** Saves each accepted bundle by revision; a failure is logged (policy diff then needs --baseline), never refuses the bundle. */
export function revisionKeeper(config: GatewayConfig, logger: Logger): (engine: PolicyEngine, bytes: Uint8Array) => void {
  const dir = join(config.state_dir, BUNDLE_REVISIONS);
  return (engine, bytes) =>
    void saveBundle(dir, engine.revision, bytes).catch((err: Error) =>
      logger.log('warn', 'the policy bundle could not be kept by revision; `regate policy diff` will need --baseline for its decisions', { policy_revision: engine.revision, dir, error: err.message }),
    );
}

/**
 * Loads and watches the shadow bundle with the enforced bundle's verification options and poll
 * interval; loads and refusals are logged and audited (`bundle.loaded` / `bundle.rejected`, the
 * reason starting with `shadow:`). A shadow bundle refused at start is a StartupError naming
 * `policy.shadow.bundle`; later refusals keep the last good shadow.
 */
export async function watchShadow(config: GatewayConfig, audit: AuditSink, logger: Logger): Promise<BundleWatcher | null> {
  const source = config.policy.shadow?.bundle;
  if (source === undefined) return null;
  const { service } = config.policy;
  // Verified with the enforced bundle's keys, fetched with its bundle server's credentials; never persisted.
  const options = { ...(await bundleOptions(config)), ...(service ? { service: serviceOptions(service), maxBackoffSeconds: service.max_backoff_seconds } : {}) };
  const record = (revision: string | null, reason: string) =>
    audit.append({ type: revision ? 'bundle.loaded' : 'bundle.rejected', source, revision, reason: `shadow: ${reason}` }).then(
      () => undefined,
      (err: unknown) => logger.log('error', 'audit bundle record failed', { error: (err as Error).message }),
    );
  const loaded = (engine: PolicyEngine) => {
    logger.log('info', 'shadow policy bundle loaded', { source, policy_revision: engine.revision });
    return record(engine.revision, 'loaded as the shadow policy; it decides beside the enforced one and changes no answer');
  };
  let watcher: BundleWatcher;
  try {
    watcher = await watchBundle(source, {
      ...options,
      pollSeconds: config.policy.poll_seconds,
      accept: revisionKeeper(config, logger),
      onLoad: (engine) => void loaded(engine),
      onReject: (err) => {
        logger.log('warn', 'shadow policy bundle refused; keeping the last good one', { source, error: err.message });
        void record(null, err.message);
      },
    });
  } catch (err) {
    logger.log('error', 'shadow policy bundle refused; the gateway does not start', { source, error: (err as Error).message });
    await record(null, (err as Error).message);
    throw new StartupError(`policy.shadow.bundle ${source} refused: ${(err as Error).message}`, { cause: err });
  }
  await loaded(watcher.current());
  return watcher;
}
