/**
 * The masking corpus: every issuer row × each of its lengths × three prefixes (the range's low,
 * middle and high end) × every grouping × every separator, and near-miss classes that look like
 * card numbers but are not (phone numbers, IBANs, epoch timestamps, order ids, UUIDs, amounts).
 * Deterministic (a seeded generator), so counts in docs/masking.md can be reproduced:
 * `npm run bench:mask-corpus`.
 */
import { ISSUER_RANGES } from '../../src/mask/issuers.js';
import { group as printed, luhnComplete } from './cards.js';
import { REF_SEPARATORS } from './reference.js';

export { printed };

/** None, every separator alone, and the gaps people print: two spaces, a spaced dash or slash, three of a kind. */
export const CORPUS_SEPARATORS = ['', ...REF_SEPARATORS, '  ', ' - ', ' / ', ' \u2013 ', '\u200b\u200b\u200b', '\t\t'];

/** Group sizes for a number of `n` digits: plain, the printed shapes of every brand, and odd ones. */
export function groupings(n: number): number[][] {
  const fill = (size: number, first: number[] = []) => {
    const g = [...first];
    let left = n - first.reduce((a, b) => a + b, 0);
    while (left > 0) {
      g.push(Math.min(size, left));
      left -= size;
    }
    return g;
  };
  const shapes = [[n], fill(4), fill(4, [4, 6]), fill(7, [4, 4, 4]), fill(3), fill(2), fill(5), fill(6), fill(4, [1]), fill(1), [n - 4, 4], [n - 1, 1]];
  return [...new Map(shapes.map((g) => [g.join('-'), g])).values()];
}

/** A small deterministic generator (mulberry32), so the corpus is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CorpusPan {
  issuer: string;
  digits: string;
}

/** Valid PANs: every row, each of its lengths, the low, middle and high end of its range. */
export function corpusPans(): CorpusPan[] {
  const next = rng(7812);
  const out: CorpusPan[] = [];
  for (const row of ISSUER_RANGES) {
    const lo = BigInt(row.lo);
    const hi = BigInt(row.hi);
    for (const prefix of new Set([lo, (lo + hi) / 2n, hi])) {
      for (const length of row.lengths) {
        let body = String(prefix).padStart(row.lo.length, '0');
        while (body.length < length - 1) body += Math.floor(next() * 10);
        out.push({ issuer: row.issuer, digits: luhnComplete(body.slice(0, length - 1)) });
      }
    }
  }
  return out;
}

const digitsOf = (next: () => number, n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');

/** Near-miss classes, each a list of strings as they appear in text. */
export function nearMisses(perClass = 2000): Record<string, string[]> {
  const next = rng(42);
  const pick = <T>(a: T[]) => a[Math.floor(next() * a.length)]!;
  const make = (f: () => string) => Array.from({ length: perClass }, f);
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(next() * 16)]).join('');
  return {
    'phone numbers (E.164, national; 10–15 digits, spaced or dashed)': make(() => {
      const cc = pick(['1', '44', '49', '33', '61', '65', '86', '91', '7', '55', '234', '971']);
      const rest = digitsOf(next, 9 + Math.floor(next() * 3));
      return pick([`+${cc} ${printed(rest, [3, 3, rest.length - 6], ' ')}`, `+${cc}-${printed(rest, [3, 3, rest.length - 6], '-')}`, `(${rest.slice(0, 3)}) ${rest.slice(3, 6)}-${rest.slice(6)}`, `00${cc}${rest}`, `+${cc}${rest}`]);
    }),
    'IBANs (printed in groups of four and plain)': make(() => {
      const country = pick(['DE', 'FR', 'GB', 'NL', 'ES', 'IT', 'BE', 'CH']);
      const bban = (country === 'GB' || country === 'NL' ? pick(['NWBK', 'ABNA', 'BARC']) : '') + digitsOf(next, 14 + Math.floor(next() * 8));
      const iban = `${country}${digitsOf(next, 2)}${bban}`;
      return next() < 0.5 ? iban : printed(iban, Array(Math.ceil(iban.length / 4)).fill(4), ' ');
    }),
    'epoch timestamps (seconds and milliseconds)': make(() => String(1_000_000_000_000 + Math.floor(next() * 1_000_000_000_000)).slice(0, next() < 0.5 ? 10 : 13)),
    'order and invoice ids': make(() => pick([`ORD-${2020 + Math.floor(next() * 7)}-${digitsOf(next, 6)}`, `INV${digitsOf(next, 10)}`, `#${digitsOf(next, 8)}-${digitsOf(next, 4)}`, `order ${digitsOf(next, 4)}-${digitsOf(next, 4)}-${digitsOf(next, 3)}`])),
    'UUIDs': make(() => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`),
    'amounts (grouped thousands, decimals)': make(() => {
      const n = digitsOf(next, 4 + Math.floor(next() * 8)).replace(/^0+/, '1');
      const grouped = n.replace(/\B(?=(\d{3})+(?!\d))/g, pick([',', ' ', '.', '\u00a0']));
      return `${pick(['$', '€', 'USD ', ''])}${grouped}${pick(['.00', ',50', '', '.99'])}`;
    }),
    'digit runs of 13–19 without an issuer prefix (0 or 7 first)': make(() => `${pick(['0', '7'])}${digitsOf(next, 12 + Math.floor(next() * 7))}`),
  };
}
