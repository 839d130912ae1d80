import { RegateError } from '../util/index.js';

/**
 * A failure the user must fix in how they called us (bad flag value, unreadable file): exit 2, as
 * for yargs' own usage errors. Verification failures use VerificationFailed (exit 1).
 */
export class UsageError extends RegateError {
  static override readonly code: string = 'ERR_USAGE';
}

/** A check ran and found a fault (bundle, audit log, proof): exit 1 with one sentence. */
export class VerificationFailed extends RegateError {
  static override readonly code: string = 'ERR_VERIFICATION_FAILED';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof VerificationFailed) return 1;
  if (err instanceof UsageError) return 2;
  return 1;
}
