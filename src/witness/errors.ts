/** The witness's typed failures (src/util/errors.ts): its store, its key, a malformed request. */
import { RegateError } from '../util/index.js';

/** The witness's store or key cannot be read or written; it refuses to cosign rather than forget. */
export class WitnessStoreError extends RegateError {
  static override readonly code: string = 'ERR_WITNESS_STORE';
}

/** The witness's configuration (its name, a log's verifier key) is not usable. */
export class WitnessConfigError extends RegateError {
  static override readonly code: string = 'ERR_WITNESS_CONFIG';
}
