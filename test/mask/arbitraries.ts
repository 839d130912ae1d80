/**
 * fast-check arbitraries for the differential tests: PANs of every issuer row in random groupings
 * and separators, and texts that mix them with the digit-and-separator soup where detectors go
 * wrong (near-misses, overlapping runs, letters and escapes touching digits, astral characters).
 */
import fc from 'fast-check';
import { ISSUER_RANGES } from '../../src/mask/issuers.js';
import { luhnComplete } from './cards.js';
import { REF_DIGIT_ZEROS, REF_MAX_GAP, REF_SEPARATORS } from './reference.js';

export const SEPARATORS = REF_SEPARATORS;

/** What stands between two groups of one PAN: nothing, one separator, or a gap of up to REF_MAX_GAP (`4111 - 1111`). */
const gapArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.constantFrom(...SEPARATORS) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...SEPARATORS), { minLength: 2, maxLength: REF_MAX_GAP }).map((g) => g.join('')) },
);

/** A Luhn-valid number of one issuer row: a prefix inside the row's range, one of its lengths. */
export const issuerDigitsArb = fc
  .record({ row: fc.constantFrom(...ISSUER_RANGES), len: fc.nat(), fill: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 19, maxLength: 19 }), pick: fc.double({ min: 0, max: 1, noNaN: true }) })
  .map(({ row, len, fill, pick }) => {
    const length = row.lengths[len % row.lengths.length]!;
    const lo = BigInt(row.lo);
    const hi = BigInt(row.hi);
    const prefix = String(lo + BigInt(Math.floor(Number(hi - lo) * pick))).padStart(row.lo.length, '0');
    return luhnComplete((prefix + fill.join('')).slice(0, length - 1));
  });

/** Digits printed in random groups (sizes 1–8) joined by random separators, or not at all. */
export const printedArb = (digits: fc.Arbitrary<string>) =>
  fc
    .record({ digits, sizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 19 }), seps: fc.array(gapArb, { minLength: 19, maxLength: 19 }) })
    .map(({ digits, sizes, seps }) => {
      let out = '';
      let i = 0;
      let g = 0;
      while (i < digits.length) {
        const n = sizes[g % sizes.length]!;
        if (i > 0) out += seps[g % seps.length]!;
        out += digits.slice(i, i + n);
        i += n;
        g++;
      }
      return out;
    });

export const printedPanArb = printedArb(issuerDigitsArb);

/** A printed PAN in another script's digits (fullwidth, Arabic-Indic, Devanagari …), the script picked per PAN or, now and then, per digit. */
export const scriptPanArb = fc.tuple(printedPanArb, fc.constantFrom(...REF_DIGIT_ZEROS), fc.array(fc.constantFrom(...REF_DIGIT_ZEROS), { minLength: 19, maxLength: 19 }), fc.boolean())
  .map(([pan, zero, zeros, mixed]) => {
    let k = 0;
    return pan.replace(/[0-9]/g, (d) => String.fromCharCode((mixed ? zeros[k++ % zeros.length]! : zero) + Number(d)));
  });

/** Pieces that end up next to numbers: separators, letters, escapes, punctuation, astral characters. */
// Gaps one wider than a PAN allows ('    ', ' -- ') end a number: the masker must agree where.
const glue = fc.constantFrom(' ', '  ', ' - ', '    ', ' -- ', '-', '.', ',', 'a', 'Z', '\\n', '\\', 'x', '\u00a0', '\u2009', '\u200b', '\t', '😀', 'é', '"', ':', '\n', '_', '/', '\u2014');

export const textArb = fc
  .array(fc.oneof({ weight: 3, arbitrary: printedPanArb }, { weight: 2, arbitrary: fc.stringMatching(/^\d{1,8}$/) }, { weight: 4, arbitrary: glue }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }), { maxLength: 14 })
  .map((a) => a.join(''));

/** Cut points for splitting a text into chunks. */
export const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

export function splitAt(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let prev = 0;
  for (const c of at) {
    parts.push(text.slice(prev, c));
    prev = c;
  }
  parts.push(text.slice(prev));
  return parts;
}
