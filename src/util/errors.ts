/**
 * Every error regate raises on purpose is a RegateError with a stable `code`, so callers (the
 * proxy mapping errors to HTTP, the CLI mapping them to exit codes, tests) branch on the code and
 * never on message text. Each stage subclasses it in its own folder, in the manner of jose's
 * `errors.ts`: one class per failure kind, the code a static and instance property.
 */
export class RegateError extends Error {
  static readonly code: string = 'ERR_REGATE';
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof RegateError).code;
  }
}

/** True when `err` is a RegateError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof RegateError && err.code === code;
}

/**
 * The caller's request is malformed (bad target, unreadable body, bad admin JSON, a missing
 * field): the one `ERR_BAD_REQUEST`, answered 400 by the gateway and the admin API alike.
 */
export class BadRequest extends RegateError {
  static override readonly code: string = 'ERR_BAD_REQUEST';
}
