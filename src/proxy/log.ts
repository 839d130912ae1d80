/**
 * Structured logs: one JSON line per request (and one per gateway event), written without blocking
 * the event loop. Only fields the gateway chooses go in: never headers, query strings or bodies, so
 * no token, secret, PAN or CVV can reach a log; the path is passed through a scrubber first
 * (mask's `scrubPath`) because a client may put a card number in it.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'off';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, off: 100 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export class Logger {
  readonly #min: number;
  constructor(
    private readonly out: { write(line: string): unknown },
    level: LogLevel = 'info',
    /** Fields on every line (a `--workers` worker adds its id and pid). */
    private readonly base: LogFields = {},
  ) {
    this.#min = RANK[level];
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  log(level: Exclude<LogLevel, 'off'>, msg: string, fields: LogFields = {}): void {
    if (RANK[level] < this.#min) return;
    this.out.write(`${JSON.stringify({ ts: new Date().toISOString(), level, msg, ...this.base, ...fields })}\n`);
  }
}
