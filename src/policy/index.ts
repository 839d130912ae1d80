/**
 * The policy stage's public surface: what the proxy, the hold stage, the CLI and the demo import.
 * Decision types are in types.ts (the shared contract).
 */
export type { Approval, Decision, HoldSpec, Identity, MaskFormat, MaskRule, PolicyInput, RequestFacts } from './types.js';
export { BundleError, BundleFetchError, BundleSignatureError, BundleTooLarge, PolicyDecisionError, PolicyEvalError } from './errors.js';
export type { PolicyEngine } from './evaluator.js';
export { CUSTOM_DETECTORS_KEY, type CustomDetectorSpec } from './detectors.js';
export { validateDecision } from './decision.js';
export { CHANGE_KINDS, changeKind, effectOf, type ChangeKind, type Effect, type Verdict } from './compare.js';
export { loadBundle, openBundle, readBundleFile, signBundle, type LoadOptions } from './load.js';
export { DEFAULT_KEY_ID, verifyFiles, type SignOptions, type VerificationKey, type VerifyOptions } from './signature.js';
export { DEFAULT_ENTRYPOINT } from './bundle.js';
export { DEFAULT_BUNDLE } from './paths.js';
export { BundleNotFound, BundleStore, bundleFileName, saveBundle } from './bundle-store.js';
export { HOST_BUILTINS } from './host.js';
export { backoffSeconds, watchBundle, type BundleWatcher, type WatchOptions, type WatchStatus } from './watch.js';
export type { BundleServiceOptions } from './service.js';
