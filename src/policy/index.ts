/**
 * The policy stage's public surface: what the proxy, the composition root, the CLI and the demo
 * import. The decision types are the shared contract (src/contract); the bundle build (`opa`
 * toolchain, compile, capabilities, decision tables) is src/policy-build, which uses the bundle
 * format, signing and engine pieces exported at the end.
 */
export type { Approval, Decision, HoldSpec, Identity, MaskFormat, MaskRule, PolicyInput, RequestFacts } from '../contract/index.js';
export { BundleError, BundleFetchError, BundleSignatureError, BundleTooLarge, PolicyDecisionError, PolicyEvalError } from './errors.js';
export type { PolicyEngine } from './evaluator.js';
export { CUSTOM_DETECTORS_KEY, type CustomDetectorSpec } from './detectors.js';
export { validateDecision } from './decision.js';
export { CHANGE_KINDS, changeKind, effectOf, type ChangeKind, type Effect, type Verdict } from './compare.js';
export { loadBundle, openBundle, readBundleFile, signBundle, type LoadOptions } from './load.js';
export { DEFAULT_KEY_ID, verifyFiles, type SignOptions, type VerificationKey, type VerifyOptions } from './signature.js';
export { DEFAULT_ENTRYPOINT } from './bundle.js';
export { DEFAULT_BUNDLE } from './paths.js';
export { BUNDLE_REVISIONS, BundleNotFound, BundleStore, bundleFileName, saveBundle } from './bundle-store.js';
export { HOST_BUILTINS } from './host.js';
export { watchBundle, type BundleWatcher, type WatchOptions, type WatchStatus } from './watch.js';
export type { BundleServiceOptions } from './service.js';
export { DEFAULT_CAPABILITIES, DEFAULT_REGO_DIR, PROJECT_ROOT } from './paths.js';
// The pieces src/policy-build assembles a bundle from (the same ones the loader checks it with).
export { MANIFEST, parseBundle, type Manifest } from './bundle.js';
export { canonicalJson } from './filehash.js';
export { contentRevision } from './load.js';
export { createEngine, importedBuiltins } from './evaluator.js';
export { signaturesFile, signFiles } from './signature.js';
export { readTarGz, writeTarGz, type TarEntry } from './tar.js';
