/**
 * Mask formats (PCI DSS 3.4.1 allows at most the first six and last four digits to be shown).
 * `full` replaces the whole value with a fixed `****`, so not even its length shows; the partial
 * formats keep separators where they show digits, so `4111 1111 1111 1111` reads `**** **** **** 1111`.
 */
import type { MaskFormat } from '../contract/index.js';

export const FULL_MASK = '****';

export function applyFormat(value: string, format: MaskFormat): string {
  if (format === 'full') return FULL_MASK;
  let count = 0;
  for (let i = 0; i < value.length; i++) if (isAlnum(value.charCodeAt(i))) count++;
  // Short values (custom detectors) show less: first six only from 13 characters (a PAN's
  // minimum), last four only from 8, so at least half of anything stays hidden.
  const head = format === 'first6last4' && count >= 13 ? 6 : 0;
  const tail = count >= 8 ? 4 : 0;
  if (head + tail === 0) return FULL_MASK;
  let out = '';
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isAlnum(c)) {
      out += value[i];
      continue;
    }
    out += n < head || n >= count - tail ? value[i] : '*';
    n++;
  }
  return out;
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
