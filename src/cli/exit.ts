import { RegateError } from '../util/index.js';

/**
 * A failure the user must fix in how they called us (bad flag value, unreadable file): exit 2, as
 * for yargs' own usage errors. Verification failures use VerificationFailed (exit 1).
 */
export class UsageError extends RegateError {
  static override readonly code: string = 'ERR_USAGE';
}

/**
 * A check ran and found a fault (bundle, audit log, proof, cluster store): exit 1 with one sentence.
 * `report` is the verdict a script reads under `--json` (what was checked, what failed), printed
 * by main.ts beside the code and message, so a failure is as readable as a success.
 */
export class VerificationFailed extends RegateError {
  static override readonly code: string = 'ERR_VERIFICATION_FAILED';
  readonly report: Record<string, unknown> | undefined;

  constructor(message: string, options?: { cause?: unknown; report?: Record<string, unknown> }) {
    super(message, options);
    this.report = options?.report;
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof VerificationFailed) return 1;
  if (err instanceof UsageError) return 2;
  return 1;
}
