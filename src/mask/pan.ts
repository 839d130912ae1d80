/**
 * What makes digits a primary account number, by the digits and not by how they are printed: 13–19
 * digits, Luhn-valid, with an issuer prefix and length from the table (issuers.ts; `pan_any`: any
 * Luhn-valid 13–19 digits, and the table's 12-digit Maestro numbers), in any grouping: between
 * any two digits, nothing or a gap of up to MAX_GAP separators a person, a model or a document
 * prints (spaces of every width, dashes and hyphens, dot, slash, underscore, tab, bullet, and the
 * invisible ones: zero-width space and joiners, soft hyphen, BOM); not directly preceded or
 * followed by a digit or a letter.
 *
 * A run of digits and gaps can hold several overlapping PANs ("5555 4111 1111 1111
 * 1111"): every one is found, and a digit is shown only if every PAN covering it shows it (last
 * four, first six). Whether a digit is hidden depends on the text within one PAN length of it, so a
 * stream decides a digit once that much text has arrived, and holds back no more.
 */
import { digitValue, isDigitCode } from './digits.js';
import { ISSUER_MAX_DIGITS, issuerOf } from './issuers.js';

export type PanMode = 'pan' | 'pan_any';

/** The fewest digits `pan` takes, and `pan_any` (12-digit Maestro). */
export const PAN_MIN_DIGITS = 13;
export const PAN_ANY_MIN_DIGITS = 12;
export const PAN_MAX_DIGITS = ISSUER_MAX_DIGITS;
/** The most separators in a row between two digits of one PAN (`4111 - 1111`, `4111  1111`). */
export const MAX_GAP = 3;
/** A PAN of the most digits with the widest gap between each pair (UTF-16 units). */
export const PAN_MAX_LENGTH = PAN_MAX_DIGITS + (PAN_MAX_DIGITS - 1) * MAX_GAP;

/**
 * Separators allowed between two digits of one PAN, in gaps of up to MAX_GAP. Not the comma, colon
 * or a line break: they join amounts, times and table rows, not the groups of one number.
 */
export const PAN_SEPARATORS = [
  ' ', '-', '.', '/', '_', '\t', '\u00a0', '\u00ad', '\u00b7',
  '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u200b', '\u200c', '\u200d',
  '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2022', '\u202f', '\u205f', '\u2060', '\u2212', '\u3000', '\ufe63', '\ufeff', '\uff0d',
] as const;

const SEPARATOR_CODES = new Set<number>(PAN_SEPARATORS.map((s) => s.charCodeAt(0)));

/** PAN_SEPARATORS as one regular-expression character class (RE2 and JavaScript read it alike). */
export const PAN_SEPARATOR_CLASS = `[${PAN_SEPARATORS.map((s) => (s === '-' || s === '.' ? `\\${s}` : s)).join('')}]`;

export function isSeparatorCode(c: number): boolean {
  if (c < 128) return c === 0x20 || c === 0x2d || c === 0x2e || c === 0x2f || c === 0x5f || c === 0x09;
  return SEPARATOR_CODES.has(c);
}

/** A decimal digit of any script (digits.ts): `4`, `４`, `٤` are all a four. */
export function isDigit(text: string, i: number): boolean {
  return isDigitCode(text.charCodeAt(i));
}

export function isSeparator(text: string, i: number): boolean {
  return isSeparatorCode(text.charCodeAt(i));
}

/**
 * Where the digit after position `i` stands when `i` starts a gap (1 to MAX_GAP separators) that a
 * digit ends; `i` itself when it is a digit; else -1. Call it right after a digit.
 */
export function digitAfterGap(text: string, i: number): number {
  for (let k = i; k <= i + MAX_GAP; k++) {
    if (isDigit(text, k)) return k;
    if (!isSeparator(text, k)) return -1;
  }
  return -1;
}

/**
 * Whether the separator at `i` lies in a gap between two digits that joins them (MAX_GAP
 * separators at most, a digit on each side): part of a digit run.
 */
export function inGap(text: string, i: number): boolean {
  if (!isSeparator(text, i)) return false;
  let a = i;
  while (a > 0 && i - a < MAX_GAP && isSeparator(text, a - 1)) a--;
  let b = i + 1;
  while (b - a <= MAX_GAP && isSeparator(text, b)) b++;
  return b - a <= MAX_GAP && isDigit(text, a - 1) && isDigit(text, b);
}

/**
 * The digit before the gap that ends at `i` (exclusive), when the characters before `i` are a gap
 * of 1 to MAX_GAP separators after a digit; else -1.
 */
export function digitBeforeGap(text: string, i: number): number {
  for (let k = i - 1; k >= i - 1 - MAX_GAP && k >= 0; k--) {
    if (isDigit(text, k)) return k < i - 1 ? k : -1;
    if (!isSeparator(text, k)) return -1;
  }
  return -1;
}

/**
 * Whether the character at `i` is a digit or an ASCII letter, which a PAN may not touch. A letter
 * of a backslash escape (`\n`, `\t`, `\r`, `\b`, `\f`) does not count: in JSON or code printed as
 * text, `"\n4111 1111 1111 1111"` is a line break before a card number.
 */
export function isWordChar(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (isDigitCode(c)) return true;
  const l = c | 32;
  if (l < 97 || l > 122) return false;
  if (text.charCodeAt(i - 1) !== 92) return true;
  return !(c === 110 || c === 116 || c === 114 || c === 98 || c === 102);
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Whether a string of digits only is a PAN in `mode`. */
export function isPanDigits(digits: string, mode: PanMode = 'pan'): boolean {
  if (digits.length > PAN_MAX_DIGITS) return false;
  if (digits.length < PAN_ANY_MIN_DIGITS || !luhnValid(digits)) return false;
  // 12-digit Maestro numbers are `pan_any`'s only: as many phone numbers, amounts and order ids
  // pass as 12-digit Maestro as there are such cards (docs/masking.md has the counts).
  if (digits.length < PAN_MIN_DIGITS) return mode === 'pan_any' && issuerOf(digits) !== undefined;
  return mode === 'pan_any' || issuerOf(digits) !== undefined;
}

/** How many of a PAN's digits a format shows: the first `head` and the last `tail`. */
export function shownDigits(format: 'full' | 'last4' | 'first6last4', digits: number): { head: number; tail: number } {
  if (format === 'full') return { head: 0, tail: 0 };
  return { head: format === 'first6last4' && digits >= 13 ? 6 : 0, tail: 4 };
}

/**
 * Every PAN that starts at a digit in [from, to) of `text`, by walking each possible start (a digit
 * not preceded by a word character) over digits and gaps to each possible end (a
 * digit not followed by one). Reads at most PAN_MAX_LENGTH + 1 characters past `to`. `found` gets
 * each PAN's start and the positions of its n digits in `positions[0, n)`, a scratch array it may
 * read during the call only (no allocation per PAN: dense answers hold dozens).
 */
export function pansStartingIn(text: string, from: number, to: number, mode: PanMode, found: (start: number, positions: Int32Array, n: number) => void): void {
  const min = mode === 'pan_any' ? PAN_ANY_MIN_DIGITS : PAN_MIN_DIGITS;
  const positions = POSITIONS;
  for (let a = Math.max(0, from); a < to; a++) {
    if (!isDigit(text, a) || (a > 0 && isWordChar(text, a - 1))) continue;
    // Luhn for every length at once: `even` doubles the digits at even offsets from `a`, `odd` those
    // at odd ones; a run of n digits doubles those whose offset has n's parity. Only a run that
    // passes is spelled out as a string for the issuer table (one in ten).
    let n = 0;
    let even = 0;
    let odd = 0;
    let j = a;
    for (;;) {
      const d = digitValue(text.charCodeAt(j));
      const twice = d > 4 ? d * 2 - 9 : d * 2;
      if ((n & 1) === 0) {
        even += twice;
        odd += d;
      } else {
        even += d;
        odd += twice;
      }
      positions[n++] = j;
      const next = j + 1;
      if (n >= min && ((n & 1) === 0 ? even : odd) % 10 === 0 && !isWordChar(text, next) && isPanDigits(spell(text, positions, n), mode)) found(a, positions, n);
      if (n >= PAN_MAX_DIGITS) break;
      const after = digitAfterGap(text, next);
      if (after < 0) break;
      j = after;
    }
  }
}

/** Where the digits of the run being walked stand (one walk at a time). */
const POSITIONS = new Int32Array(PAN_MAX_DIGITS);

/** The PAN's digits as ASCII, whatever script they were printed in. */
function spell(text: string, positions: Int32Array, n: number): string {
  let digits = '';
  for (let k = 0; k < n; k++) digits += String.fromCharCode(48 + digitValue(text.charCodeAt(positions[k]!)));
  return digits;
}
