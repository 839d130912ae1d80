/**
 * Building and testing policy bundles (what `regate build`, `regate test` and `regate toolchain`
 * run): find or install the pinned `opa` binary, compile the Rego to Wasm, derive the capabilities
 * file, pack and sign the bundle, and run the decision tables. Only this folder spawns processes;
 * the runtime in src/policy never does.
 */
export { bundleEntries, buildPolicy, checkBuild, compilePolicy, regoSources, updateCapabilities, type BuildPaths, type Compiled } from './build.js';
export { generateCapabilities } from './capabilities.js';
export { DecisionTableError, differences, loadCases, runCases, type CaseResult, type DecisionCase } from './cases.js';
export { OpaCommandFailed, runOpa, type OpaResult } from './opa.js';
export { findOpa, OPA_MODULE, OPA_VERSION, OpaUnavailable, OpaVersionMismatch, opaCacheDir, opaVersionOf, type FindOpaOptions } from './toolchain.js';
