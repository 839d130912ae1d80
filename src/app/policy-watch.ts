/**
 * The policy the pipeline decides with: the bundle loaded at start (from a file or a bundle
 * server, with a persisted last good copy) and, with `poll_seconds` > 0, watched for a new
 * revision; every load and refusal is audited and logged.
 */
import type { GatewayConfig } from '../config/index.js';
import { BundleFetchError, BundleSignatureError, watchBundle, type BundleWatcher, type PolicyEngine } from '../policy/index.js';
import { bundleMasker, type ActivePolicy, type AuditSink, type Logger, type PolicyService } from '../proxy/index.js';
import { StartupError } from './errors.js';
import { watchOptions } from './options.js';
import { revisionKeeper } from './what-if.js';

/** A loaded bundle as the pipeline uses it; its masker compiles the bundle's custom detectors now. */
export function activate(engine: PolicyEngine): ActivePolicy {
  return { revision: engine.revision, evaluate: (input) => engine.evaluate(input), evaluateJson: (json) => engine.evaluateJson(json), masker: bundleMasker(engine.customDetectors) };
}

/** What the operator changes when the bundle is refused at start, by the kind of refusal. */
function policyFix(err: unknown, keyFile: string | undefined): string {
  if (err instanceof BundleSignatureError) return `check policy.public_key_file${keyFile ? ` (${keyFile})` : ''} (or policy.keys, key_id, scope) against the key that signed the bundle`;
  if (err instanceof BundleFetchError) return 'check policy.bundle and policy.service, or that the bundle server is up';
  if (/does not exist/.test((err as Error).message)) return 'fix policy.bundle, or build the bundle with `regate build`';
  if (/entrypoint/.test((err as Error).message)) return 'set policy.entrypoint to a rule the bundle was built for';
  return 'fix the bundle named by policy.bundle';
}

/**
 * Loads the bundle (signed unless `policy.allow_unsigned`) and, with `poll_seconds` > 0, keeps
 * watching it: a new bundle that fails verification or compilation is refused and the last good
 * one keeps serving. Every load and refusal, the first one included, is audited and logged.
 */
export async function watchPolicy(config: GatewayConfig, audit: AuditSink, logger: Logger): Promise<{ policy: PolicyService; watcher: BundleWatcher }> {
  const { bundle: source, public_key_file: keyFile } = config.policy;
  const options = await watchOptions(config);
  const how = options.publicKeyPem ? `signature verified with ${keyFile}`
    : options.keys ? `signature verified with one of policy.keys (${options.keys.map((k) => k.keyId).join(', ')})`
    : 'unsigned: policy.allow_unsigned is true';
  const record = (revision: string | null, reason: string) =>
    audit.append({ type: revision ? 'bundle.loaded' : 'bundle.rejected', source, revision, reason }).then(
      () => undefined,
      (err: unknown) => logger.log('error', 'audit bundle record failed', { error: (err as Error).message }),
    );
  const loaded = (engine: PolicyEngine, origin = 'source') => {
    logger.log('info', 'policy bundle loaded', { source, policy_revision: engine.revision, verification: how, ...(origin === 'source' ? {} : { origin }) });
    return record(engine.revision, origin === 'source' ? how : `${how}; from the persisted copy, the source being unavailable`);
  };
  const active = new WeakMap<PolicyEngine, ActivePolicy>();
  const keep = revisionKeeper(config, logger);
  const accept = (engine: PolicyEngine, bytes: Uint8Array) => {
    active.set(engine, activate(engine));
    keep(engine, bytes);
  };
  let watcher: BundleWatcher;
  try {
    watcher = await watchBundle(source, {
      ...options,
      accept,
      onLoad: (engine) => void loaded(engine),
      onReject: (err) => {
        logger.log('warn', 'policy bundle refused; keeping the last good one', { source, error: err.message, code: (err as { code?: string }).code });
        void record(null, err.message);
      },
      onPersistFailed: (err) => logger.log('warn', 'the policy bundle could not be persisted; a restart while the bundle server is down would fail', { error: err.message }),
    });
  } catch (err) {
    logger.log('error', 'policy bundle refused; the gateway does not start', { source, error: (err as Error).message });
    await record(null, (err as Error).message);
    throw new StartupError(`policy bundle ${source} refused: ${(err as Error).message}; ${policyFix(err, keyFile)}`, { cause: err });
  }
  await loaded(watcher.current(), watcher.status().origin);
  return { policy: { current: () => active.get(watcher.current())! }, watcher };
}
