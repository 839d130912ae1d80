/**
 * Structured logs: one JSON line per request (and one per gateway event), written without blocking
 * the event loop. Only fields the gateway chooses go in: never headers, query strings or bodies, so
 * no token, secret, PAN or CVV can reach a log; the path is passed through a scrubber first because
 * a client may put a card number in it.
 */
import { PAN_SEPARATOR_CLASS } from '../mask/index.js';

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

/** A digit of any script, or one percent-encoded (`%34` is a 4). */
const DIGIT = '(?:\\p{Nd}|%3[0-9])';
/** What may stand between two digits of a card number (mask/pan.ts), raw or percent-encoded, up to three. */
const GAP = `(?:${PAN_SEPARATOR_CLASS}|%[0-9A-Fa-f]{2}){0,3}`;
/** A run of 12 or more digits, grouped as a card number may be: long enough to be (part of) one. */
const LONG_NUMBER = new RegExp(`${DIGIT}(?:${GAP}${DIGIT}){11,}`, 'gu');

/**
 * The path as it may be logged: long digit runs are cut to their last four. Percent-encoding can
 * spell any digit (`%34` is a 4, `%EF%BC%94` a fullwidth one), so a path with a long run once
 * decoded is logged decoded and redacted; one that does not decode is read with `%3N` as digits.
 */
export function scrubPath(path: string): string {
  let text = path;
  if (path.includes('%')) {
    try {
      text = decodeURIComponent(path);
    } catch {
      // a malformed escape: read as it is
    }
  }
  const scrubbed = text.replace(LONG_NUMBER, (m) => `[redacted…${m.replace(/%3([0-9])/g, '$1').replace(/\P{Nd}/gu, '').slice(-4)}]`);
  return scrubbed === text ? path : scrubbed;
}
