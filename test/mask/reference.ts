/**
 * The reference PAN detector the masker is checked against: obviously correct and slow. It tries
 * every substring of a text, keeps those made of digits with at most one separator between any
 * two, 13–19 digits (`pan_any`: also 12-digit Maestro), not touching a digit or letter, Luhn-valid by the textbook rule and taken by a
 * row of the issuer table read one row at a time; then it computes the text a format must give:
 * each digit hidden unless every PAN covering it shows it. Nothing here shares code with the
 * masker except the issuer table's data (issuers.ts), which is the specification, not logic.
 */
import { ISSUER_RANGES } from '../../src/mask/issuers.js';

export type Mode = 'pan' | 'pan_any';
export type Format = 'full' | 'last4' | 'first6last4';

const SEPARATORS = new Set([' ', '-', '.', '\u00a0', '\u2007', '\u2009', '\u202f', '\u2010', '\u2011', '\u2013']);
const DIGITS = '0123456789';
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function touches(text: string, i: number): boolean {
  if (i < 0 || i >= text.length) return false;
  const c = text[i]!;
  if (DIGITS.includes(c)) return true;
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
    if (!DIGITS.includes(text[i]!) || touches(text, i - 1)) continue;
    for (let j = i + 1; j <= text.length && j - i <= 37; j++) {
      const s = text.slice(i, j);
      if (!DIGITS.includes(s[s.length - 1]!) || touches(text, j)) continue;
      let ok = true;
      for (let k = 0; k < s.length; k++) {
        const c = s[k]!;
        if (DIGITS.includes(c)) continue;
        if (!SEPARATORS.has(c) || !DIGITS.includes(s[k - 1]!) || !DIGITS.includes(s[k + 1]!)) ok = false;
      }
      if (!ok) continue;
      const positions = [...s].flatMap((c, k) => (DIGITS.includes(c) ? [i + k] : []));
      const digits = positions.map((p) => text[p]).join('');
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
 * single separators between them) becomes one `****`.
 */
export function refMask(text: string, format: Format, mode: Mode = 'pan'): string {
  const hidden = refHidden(text, format, mode);
  if (format !== 'full') return maskChars(text, hidden);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (hidden.has(i)) {
      if (!(hidden.has(i - 1) || (SEPARATORS.has(text[i - 1]!) && hidden.has(i - 2)))) out += '****';
    } else if (SEPARATORS.has(text[i]!) && hidden.has(i - 1) && hidden.has(i + 1)) {
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
