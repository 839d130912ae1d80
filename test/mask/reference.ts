/**
 * The reference PAN detector the masker is checked against: obviously correct and slow. It tries
 * every substring of a text, keeps those made of digits with at most three separators in a row
 * between any two, 13–19 digits (`pan_any`: also 12-digit Maestro), not touching a digit or letter, Luhn-valid by the textbook rule and taken by a
 * row of the issuer table read one row at a time; then it computes the text a format must give:
 * each digit hidden unless every PAN covering it shows it. Nothing here shares code with the
 * masker except the issuer table's data (issuers.ts), which is the specification, not logic.
 */
import { ISSUER_RANGES } from '../../src/mask/issuers.js';

export type Mode = 'pan' | 'pan_any';
export type Format = 'full' | 'last4' | 'first6last4';

/** docs/masking.md's list, written out again here: spaces, dashes, dots, slash, underscore, tab, invisible characters. */
export const REF_SEPARATORS = [
  ' ', '-', '.', '/', '_', '\t', '\u00a0', '\u00ad', '\u00b7',
  '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u200b', '\u200c', '\u200d',
  '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2022', '\u202f', '\u205f', '\u2060', '\u2212', '\u3000', '\ufe63', '\ufeff', '\uff0d',
];
const SEPARATORS = new Set(REF_SEPARATORS);
/** The most separators in a row between two digits of one PAN (`4111 - 1111`). */
export const REF_MAX_GAP = 3;
/**
 * Decimal digits of every script: the zero of each run of ten in Unicode's Nd category below
 * U+10000 (ASCII, Arabic-Indic, Extended Arabic-Indic, NKo, Devanagari … Myanmar … fullwidth),
 * written out from the Unicode tables.
 */
export const REF_DIGIT_ZEROS = [
  0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090,
  0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
];

/** The value of a one-unit digit of any script, or -1. */
export function refDigit(c: string | undefined): number {
  if (c === undefined || c.length !== 1) return -1;
  const code = c.charCodeAt(0);
  const zero = REF_DIGIT_ZEROS.find((z) => code >= z && code < z + 10);
  return zero === undefined ? -1 : code - zero;
}
const isDigitChar = (c: string | undefined): boolean => refDigit(c) >= 0;
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function touches(text: string, i: number): boolean {
  if (i < 0 || i >= text.length) return false;
  const c = text[i]!;
  if (isDigitChar(c)) return true;
  if (!LETTERS.includes(c)) return false;
  // The letter of a backslash escape is not a letter next to the number.
  return !(text[i - 1] === '\\' && 'ntrbf'.includes(c));
}

export function refLuhn(digits: string): boolean {
  const ds = [...digits].map(Number).reverse();
  const sum = ds.map((d, i) => (i % 2 === 1 ? [...String(d * 2)].map(Number).reduce((a, b) => a + b, 0) : d)).reduce((a, b) => a + b, 0);
  return sum % 10 === 0;
}

export function refIssuer(digits: string): boolean {
  return ISSUER_RANGES.some((r) => {
    const prefix = Number(digits.slice(0, r.lo.length));
    return r.lengths.includes(digits.length) && prefix >= Number(r.lo) && prefix <= Number(r.hi);
  });
}

export function refIsPan(digits: string, mode: Mode): boolean {
  if (mode === 'pan_any') return digits.length >= 12 && digits.length <= 19 && refLuhn(digits) && (digits.length >= 13 || refIssuer(digits));
  return digits.length >= 13 && digits.length <= 19 && refLuhn(digits) && refIssuer(digits);
}

export interface RefPan {
  start: number;
  end: number;
  /** Positions of its digits in the text. */
  positions: number[];
}

/** Every PAN in `text`: all substrings, checked one by one. */
export function refFind(text: string, mode: Mode = 'pan'): RefPan[] {
  const found: RefPan[] = [];
  for (let i = 0; i < text.length; i++) {
    if (!isDigitChar(text[i]) || touches(text, i - 1)) continue;
    for (let j = i + 1; j <= text.length && j - i <= 19 + 18 * REF_MAX_GAP; j++) {
      const s = text.slice(i, j);
      if (!isDigitChar(s[s.length - 1]) || touches(text, j)) continue;
      // Between its first and last digit: digits, and gaps of 1 to REF_MAX_GAP separators.
      const gaps: string[] = [];
      for (const c of s.split('')) {
        if (isDigitChar(c)) gaps.push('');
        else gaps[gaps.length - 1] += c;
      }
      if (!gaps.every((g) => g.length <= REF_MAX_GAP && g.split('').every((c) => SEPARATORS.has(c)))) continue;
      const positions = s.split('').flatMap((c, k) => (isDigitChar(c) ? [i + k] : []));
      const digits = positions.map((p) => String(refDigit(text[p]))).join('');
      if (refIsPan(digits, mode)) found.push({ start: i, end: j, positions });
    }
  }
  return found;
}

/** Positions a format hides: every digit some PAN does not show. */
export function refHidden(text: string, format: Format, mode: Mode = 'pan'): Set<number> {
  const hidden = new Set<number>();
  for (const pan of refFind(text, mode)) {
    const n = pan.positions.length;
    const head = format === 'first6last4' && n >= 13 ? 6 : 0;
    const tail = format === 'full' ? 0 : 4;
    pan.positions.forEach((p, k) => {
      if (k >= head && k < n - tail) hidden.add(p);
    });
  }
  return hidden;
}

/**
 * The masked text: hidden digits become `*`; with `full`, each stretch of hidden digits (with the
 * gaps of up to REF_MAX_GAP separators between them) becomes one `****`.
 */
export function refMask(text: string, format: Format, mode: Mode = 'pan'): string {
  const hidden = refHidden(text, format, mode);
  if (format !== 'full') return maskChars(text, hidden);
  // A separator is inside a stretch when its whole gap (REF_MAX_GAP at most) lies between two hidden digits.
  const inGap = (i: number): boolean => {
    if (!SEPARATORS.has(text[i]!)) return false;
    let a = i;
    while (a > 0 && SEPARATORS.has(text[a - 1]!)) a--;
    let b = i;
    while (b < text.length && SEPARATORS.has(text[b]!)) b++;
    return b - a <= REF_MAX_GAP && hidden.has(a - 1) && hidden.has(b);
  };
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (hidden.has(i)) {
      let before = i - 1;
      while (before >= 0 && inGap(before)) before--;
      if (!hidden.has(before)) out += '****';
    } else if (inGap(i)) {
      // inside a stretch
    } else {
      out += text[i];
    }
  }
  return out;
}

function maskChars(text: string, hidden: Set<number>): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += hidden.has(i) ? '*' : text[i];
  return out;
}

/**
 * The leak check, independent of how the masker formats: with a length-keeping format, every
 * digit the reference hides must not be in the output at its place.
 */
export function refLeaks(input: string, output: string, format: 'last4' | 'first6last4', mode: Mode = 'pan'): number {
  let leaks = 0;
  for (const p of refHidden(input, format, mode)) if (output[p] === input[p]) leaks++;
  return leaks;
}
