/**
 * The payment card issuer table the `pan` detector checks a digit string against: issuer
 * identification number (IIN) ranges and the lengths each issues, ISO/IEC 7812 payment networks in
 * public use. Source: the "Payment card number" IIN table on Wikipedia
 * (https://en.wikipedia.org/wiki/Payment_card_number#Issuer_identification_number_(IIN), as of
 * 2025), which compiles the networks' own published ranges; discontinued networks whose ranges
 * were reissued (Laser, Solo, Switch) are kept, since cards printed under them still circulate.
 * Ranges overlap on purpose (co-branded cards): a number is a PAN when any row takes it.
 */

/** `lo`–`hi` compare over the first `lo.length` digits; `lengths` are whole PAN lengths. */
interface IssuerRange {
  issuer: string;
  lo: string;
  hi: string;
  lengths: readonly number[];
}

const span = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const L12_19 = span(12, 19);
const L14_19 = span(14, 19);
const L16_19 = span(16, 19);
const L16_18_19 = [16, 18, 19];

/** [issuer, ranges ("lo" or "lo-hi"), lengths] */
const TABLE: [string, string[], readonly number[]][] = [
  ['visa', ['4'], [13, 16, 19]],
  ['visa electron', ['4026', '417500', '4508', '4844', '4913', '4917'], [16]],
  ['mastercard', ['51-55', '2221-2720'], [16]],
  ['amex', ['34', '37'], [15]],
  ['discover', ['6011', '644-649', '65', '622126-622925'], L16_19],
  ['jcb', ['3528-3589'], L16_19],
  ['diners club', ['300-305', '3095', '36', '38-39'], L14_19],
  ['diners club us & canada', ['54-55'], [16]],
  ['unionpay', ['62'], L16_19],
  ['china t-union', ['31'], [19]],
  ['maestro', ['50', '56-69', '5018', '5020', '5038', '5893', '6304', '6759', '6761-6763'], L12_19],
  ['maestro uk', ['6759', '676770', '676774'], L12_19],
  ['dankort', ['5019', '4571'], [16]],
  ['mir', ['2200-2204'], L16_19],
  ['borica', ['2205'], [16]],
  ['rupay', ['60', '65', '81', '82', '508', '353', '356'], [16]],
  ['troy', ['65', '9792'], [16]],
  ['verve', ['506099-506198', '650002-650027', '507865-507964'], L16_18_19],
  ['elo', ['401178', '401179', '431274', '438935', '451416', '457393', '457631', '457632', '504175', '506699-506778', '509000-509999', '627780', '636297', '636368', '650031-650033', '650035-650051', '650405-650439', '650485-650538', '650541-650598', '650700-650718', '650720-650727', '650901-650978', '651652-651679', '655000-655019', '655021-655058'], [16]],
  ['hipercard', ['606282', '3841'], [16, 19]],
  ['uatp', ['1'], [15]],
  ['interpayment', ['636'], L16_19],
  ['instapayment', ['637-639'], [16]],
  ['ukrcard', ['60400100-60420099'], L16_19],
  ['laser', ['6304', '6706', '6709', '6771'], L16_19],
  ['solo', ['6334', '6767'], L16_18_19],
  ['switch', ['4903', '4905', '4911', '4936', '564182', '633110', '6333', '6759'], L16_18_19],
  ['npspridnestrovie', ['6054740-6054744'], [16]],
  ['lankapay', ['357111'], [16]],
  ['uzcard', ['8600'], [16]],
  ['humo', ['9860'], [16]],
  ['gpn', ['1946', '50', '56', '58', '60-63'], L16_18_19],
];

export const ISSUER_RANGES: readonly IssuerRange[] = TABLE.flatMap(([issuer, ranges, lengths]) =>
  ranges.map((r) => {
    const [lo, hi = lo] = r.split('-') as [string, string?];
    return { issuer, lo, hi, lengths };
  }),
);

/** The longest length any issuer uses. */
export const ISSUER_MAX_DIGITS = Math.max(...ISSUER_RANGES.flatMap((r) => r.lengths));

/**
 * Per length, per first digit, the ranges that could take a number: the lookup runs for every
 * Luhn-valid digit run, so it skips the rows that cannot apply by first digit and length alone.
 */
const BY_LENGTH_AND_FIRST: IssuerRange[][][] = (() => {
  const t: IssuerRange[][][] = Array.from({ length: ISSUER_MAX_DIGITS + 1 }, () => Array.from({ length: 10 }, () => []));
  for (const r of ISSUER_RANGES) {
    for (const len of r.lengths) {
      for (let d = Number(r.lo[0]); d <= Number(r.hi[0]); d++) t[len]![d]!.push(r);
    }
  }
  return t;
})();

/** The first issuer whose range and lengths take `digits` (a string of ASCII digits), or undefined. */
export function issuerOf(digits: string): string | undefined {
  const rows = BY_LENGTH_AND_FIRST[digits.length]?.[digits.charCodeAt(0) - 48];
  if (!rows) return undefined;
  for (const r of rows) {
    const prefix = digits.slice(0, r.lo.length);
    if (prefix >= r.lo && prefix <= r.hi) return r.issuer;
  }
  return undefined;
}
