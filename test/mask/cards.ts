/**
 * Test data shared by the masking tests: valid PANs of every brand (Luhn digit computed), printed
 * in the groupings cards use, and fast-check arbitraries for them.
 */
import fc from 'fast-check';

export const BRANDS: { prefix: string; length: number; groups: number[][] }[] = [
  { prefix: '4', length: 16, groups: [[4, 4, 4, 4]] },
  { prefix: '4', length: 13, groups: [[4, 4, 5]] },
  { prefix: '4', length: 19, groups: [[4, 4, 4, 4, 3]] },
  { prefix: '51', length: 16, groups: [[4, 4, 4, 4]] },
  { prefix: '2221', length: 16, groups: [[4, 4, 4, 4]] },
  { prefix: '2720', length: 16, groups: [[4, 4, 4, 4]] },
  { prefix: '34', length: 15, groups: [[4, 6, 5]] },
  { prefix: '37', length: 15, groups: [[4, 6, 5]] },
  { prefix: '6011', length: 16, groups: [[4, 4, 4, 4]] },
  { prefix: '65', length: 19, groups: [[4, 4, 4, 4, 3]] },
  { prefix: '3530', length: 16, groups: [[4, 4, 4, 4]] },
  { prefix: '36', length: 14, groups: [[4, 6, 4]] },
  { prefix: '62', length: 19, groups: [[4, 4, 4, 4, 3]] },
  { prefix: '6759', length: 18, groups: [[4, 4, 4, 6]] },
];

export function luhnComplete(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const s = body + d;
    let sum = 0;
    for (let i = 0; i < s.length; i++) {
      let v = Number(s[s.length - 1 - i]);
      if (i % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
      sum += v;
    }
    if (sum % 10 === 0) return s;
  }
  throw new Error('unreachable');
}

export function group(digits: string, sizes: number[], sep: string): string {
  const out: string[] = [];
  let i = 0;
  for (const n of sizes) {
    out.push(digits.slice(i, i + n));
    i += n;
  }
  return out.join(sep);
}

/** A valid PAN, printed plain, with spaces or with dashes. */
export const panArb = fc
  .record({
    brand: fc.constantFrom(...BRANDS),
    fill: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
    sep: fc.constantFrom('', ' ', '-'),
  })
  .map(({ brand, fill, sep }) => {
    const digits = luhnComplete(brand.prefix + fill.join('').slice(0, brand.length - brand.prefix.length - 1));
    return { digits, printed: sep === '' ? digits : group(digits, brand.groups[0]!, sep) };
  });

/** Filler text that can hold no PAN: words, punctuation, emoji and other astral characters. */
export const fillerArb = fc
  .array(fc.constantFrom('the ', 'card ', 'is ', '😀', '𝄞', 'é', ', ', '.\n', 'order #12 ', 'ok ', 'A', '"', ':'), { maxLength: 12 })
  .map((a) => a.join(''));
