/**
 * Decimal digits of every script, not only ASCII: a card number printed in fullwidth digits
 * (`４１１１…`, what some keyboards and models emit), Arabic-Indic (`٤١١١…`), Devanagari or any other
 * script's is the same number to whoever reads it. Every BMP character of Unicode's general
 * category Nd, with its value (its place in its run of ten). Astral digits (mathematical bold and
 * the like) are two UTF-16 units each and are not read as digits.
 */

/** Per BMP code unit: its digit value 0–9, or NOT_DIGIT. */
const VALUES = new Uint8Array(0x10000).fill(255);
const NOT_DIGIT = 255;
(() => {
  const nd = /\p{Nd}/u;
  let run = 0;
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) {
      run = 0;
      continue;
    }
    if (nd.test(String.fromCharCode(c))) VALUES[c] = run++ % 10;
    else run = 0;
  }
})();

/** Whether the UTF-16 unit `c` is a decimal digit of some script (NaN, past a string's end: no). */
export function isDigitCode(c: number): boolean {
  return c < 128 ? c >= 48 && c <= 57 : c < 0x10000 && VALUES[c] !== NOT_DIGIT;
}

/** The value 0–9 of the digit `c` (call it on a digit only). */
export function digitValue(c: number): number {
  return c < 128 ? c - 48 : VALUES[c]!;
}
