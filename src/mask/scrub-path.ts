/**
 * A request path (its query included) as it may be shown where card data must not be: log lines,
 * audit records, the holds API and the webhook. Long digit runs, grouped as a card number may be,
 * are cut to their last four, in any script and through percent-encoding.
 */
import { PAN_SEPARATOR_CLASS } from './pan.js';

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
