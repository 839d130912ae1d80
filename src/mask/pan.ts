/**
 * What makes a digit sequence a primary account number: a known brand prefix with one of that
 * brand's lengths, the Luhn check, digits grouped the way cards print them, and no digit directly
 * before or after. RE2 only finds candidates; these rules decide, in code, so they stay readable.
 */

/** Brand ranges as [low, high] over a prefix of the given width, with the lengths they issue. */
const BRANDS: { brand: string; width: number; low: number; high: number; lengths: number[] }[] = [
  { brand: 'visa', width: 1, low: 4, high: 4, lengths: [13, 16, 19] },
  { brand: 'mastercard', width: 2, low: 51, high: 55, lengths: [16] },
  { brand: 'mastercard', width: 4, low: 2221, high: 2720, lengths: [16] },
  { brand: 'amex', width: 2, low: 34, high: 34, lengths: [15] },
  { brand: 'amex', width: 2, low: 37, high: 37, lengths: [15] },
  { brand: 'discover', width: 4, low: 6011, high: 6011, lengths: [16, 17, 18, 19] },
  { brand: 'discover', width: 3, low: 644, high: 649, lengths: [16, 17, 18, 19] },
  { brand: 'discover', width: 2, low: 65, high: 65, lengths: [16, 17, 18, 19] },
  { brand: 'jcb', width: 4, low: 3528, high: 3589, lengths: [16, 17, 18, 19] },
  { brand: 'diners', width: 3, low: 300, high: 305, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'diners', width: 2, low: 36, high: 36, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'diners', width: 2, low: 38, high: 39, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'unionpay', width: 2, low: 62, high: 62, lengths: [16, 17, 18, 19] },
  { brand: 'maestro', width: 2, low: 50, high: 50, lengths: [13, 14, 15, 16, 17, 18, 19] },
  { brand: 'maestro', width: 2, low: 56, high: 69, lengths: [13, 14, 15, 16, 17, 18, 19] },
];

export const PAN_MIN_DIGITS = 13;
export const PAN_MAX_DIGITS = 19;
/** 19 digits with a single separator between each pair. */
export const PAN_MAX_LENGTH = PAN_MAX_DIGITS * 2 - 1;
/** Candidates for RE2: 13–19 digits, single spaces or dashes allowed between digits. */
export const PAN_CANDIDATE = `\\d(?:[ -]?\\d){${PAN_MIN_DIGITS - 1},${PAN_MAX_DIGITS - 1}}`;

/** The brand whose prefix and length `digits` has, or undefined. */
export function panBrand(digits: string): string | undefined {
  for (const b of BRANDS) {
    const prefix = Number(digits.slice(0, b.width));
    if (prefix >= b.low && prefix <= b.high && b.lengths.includes(digits.length)) return b.brand;
  }
  return undefined;
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

/** Brand-valid and Luhn-valid, for a string of digits only. */
export function isPanDigits(digits: string): boolean {
  return luhnValid(digits) && panBrand(digits) !== undefined;
}

export function isDigit(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 48 && c <= 57;
}

/** Where the search goes on: the PAN found (`end` > 0) or only the position to resume from. */
export interface PanDecision {
  end: number;
  resume: number;
}

/**
 * Decides the RE2 candidate [start, end) of `text`: the longest PAN beginning at `start`, made of
 * whole digit groups (first group 4–6 digits, the others 3–6, or no separators at all) and not
 * followed by a digit; otherwise where the next group begins. Reads at most one character
 * outside the candidate on each side, which is what keeps streaming decisions local.
 */
export function decidePan(text: string, start: number, end: number): PanDecision {
  const groups: [number, number][] = [];
  let g = start;
  for (let i = start; i < end; i++) {
    if (!isDigit(text, i)) {
      groups.push([g, i]);
      g = i + 1;
    }
  }
  groups.push([g, end]);
  const nextGroup = groups.length > 1 ? groups[1]![0] : end;
  if (start > 0 && isDigit(text, start - 1)) return { end: 0, resume: nextGroup };
  for (let last = groups.length - 1; last >= 0; last--) {
    const stop = groups[last]![1];
    if (isDigit(text, stop)) continue;
    if (last > 0 && !groupsLookPrinted(groups, last)) continue;
    let digits = '';
    for (let k = 0; k <= last; k++) digits += text.slice(groups[k]![0], groups[k]![1]);
    if (digits.length < PAN_MIN_DIGITS) break;
    if (digits.length <= PAN_MAX_DIGITS && isPanDigits(digits)) return { end: stop, resume: stop };
  }
  return { end: 0, resume: nextGroup };
}

function groupsLookPrinted(groups: [number, number][], last: number): boolean {
  for (let k = 0; k <= last; k++) {
    const size = groups[k]![1] - groups[k]![0];
    if (size > 6 || size < (k === 0 ? 4 : 3)) return false;
  }
  return true;
}
