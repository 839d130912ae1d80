/**
 * The policy stage's typed failures. The proxy maps every one of them to a fail-closed 503; the
 * CLI maps bundle and signature faults to exit 1. Messages name the file, claim or field at fault.
 */
import { RegateError } from '../util/index.js';

/** Evaluation itself failed (Wasm trap, builtin error, input that cannot be serialised). */
export class PolicyEvalError extends RegateError {
  static override readonly code: string = 'ERR_POLICY_EVAL';
}

/** The policy answered, but not with a decision matching the contract in types.ts. */
export class PolicyDecisionError extends RegateError {
  static override readonly code: string = 'ERR_POLICY_DECISION';
}

/** A bundle is unreadable: not gzip/tar, too large, missing or malformed manifest, data or module. */
export class BundleError extends RegateError {
  static override readonly code: string = 'ERR_BUNDLE';
  /** The bundle file (e.g. `.manifest`, `policy.wasm`) at fault, when one is. */
  readonly file: string | undefined;

  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options);
    this.file = options?.file;
  }
}

/** A bundle's archive exceeds a size or count limit. */
export class BundleTooLarge extends BundleError {
  static override readonly code: string = 'ERR_BUNDLE_TOO_LARGE';
}

/**
 * A signature check failed: unsigned when a signature is required, bad JWS, wrong key or key id,
 * scope mismatch, or a file changed, missing or not covered by the signature.
 */
export class BundleSignatureError extends BundleError {
  static override readonly code: string = 'ERR_BUNDLE_SIGNATURE';
}

/** The bundle service could not be asked, or did not answer with a bundle (network, TLS, HTTP status). */
export class BundleFetchError extends BundleError {
  static override readonly code: string = 'ERR_BUNDLE_FETCH';
}
