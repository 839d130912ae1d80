/**
 * JSON masked in one scan (json-scan.ts) is JSON masked by the walk over its tree: over random
 * JSON (digit-heavy strings, card numbers in every grouping, big integers, labels and label-named
 * keys with the values they mask, escapes that spell digits, separators and quotes, near-JSON that
 * is not), the same output and counts, for every detector mix and format.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, maskJsonText, type MaskPlan } from '../../src/mask/index.js';
import { maskJsonWalk } from '../../src/mask/json.js';
import { issuerDigitsArb, printedPanArb, textArb } from './arbitraries.js';

/** JSON.stringify, then some characters spelled as \u escapes (digits, separators, letters). */
const escapeSome = (s: string, mask: number) => JSON.stringify(s).replace(/[0-9 \-.a-z]/g, (c, i: number) => ((mask >> (i % 30)) & 1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c));
const labelled = fc.constantFrom('cvv: 123', 'CVC2=9999', 'security code is 042', 'expiry 12/29', 'expires 2027-01', 'exp 2031 / 12', 'expires 2027-01-15', 'exp: 1 / 2031', 'valid thru 07-27', 'card verification 123', 'Card_Verification: 321', 'card 123', '%B4111111111111111^DOE/J^2512101', ';4111111111111111=25121010000000000?', 'id 12345', 'txn_01', 'fraud-v3', '0.12', '123', ' 0427 ', '12/29', '7 / 2031');
const plainArb = fc.oneof(textArb, labelled, printedPanArb, fc.stringMatching(/^[a-z_]{0,8}\d{0,14}$/));
const stringArb = fc.tuple(plainArb, fc.oneof(fc.constant(0), fc.nat())).map(([s, mask]) => escapeSome(s, mask));
const keyArb = fc.oneof(stringArb, fc.tuple(fc.constantFrom('cvv', 'cardCvv', 'card_cvv2', 'Expiry', 'exp', 'exp_date', 'valid-thru', 'xcvv', 'score', 'id', 'last4', 'model', 's-ecurity code', 'exp_month', 'expiryYear', 'card_exp_mm', 'EXP-YYYY', 'xexp_month', 'exp_month_count', 'month', 'year'), fc.oneof(fc.constant(0), fc.nat())).map(([k, mask]) => escapeSome(k, mask)));
const numberArb = fc.oneof(issuerDigitsArb, issuerDigitsArb.map((d) => `-${d}`), fc.constantFrom('0', '-0.5', '1e400', '123', '4321', '123.5', '0123', '12.5e3', '6548686408882000464', '4111111111111111.0', '4111111111111111e0', '1E+5'), fc.integer().map(String));
/** Values a cvv or expiry key masks by itself. */
const contextValueArb = fc.constantFrom('123', '"0427"', '" 123 "', '"12/29"', '"1 / 2031"', '4321', '"2027-01"', '"2031 / 12"', '"2027-01-15"', '7', '12', '13', '"07"', '29', '2029', '" 2031 "', '2029.5');
const ws = fc.constantFrom('', ' ', '\n  ', '\t');

const docArb: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    stringArb,
    numberArb,
    fc.constantFrom('true', 'false', 'null'),
    fc.tuple(ws, fc.array(fc.tuple(tie('v'), ws), { maxLength: 4 })).map(([w, items]) => `[${w}${items.map(([d, w2]) => d + w2).join(',')}]`),
    fc.tuple(ws, fc.array(fc.tuple(keyArb, fc.oneof(tie('v'), contextValueArb), ws), { maxLength: 4 })).map(([w, entries]) => `{${w}${entries.map(([k, d, w2]) => `${k}${w2}:${d}`).join(',')}}`),
  ),
})).v;
/** Documents, and near-documents with one character dropped or doubled (mostly not JSON). */
const srcArb = fc.oneof(
  { weight: 4, arbitrary: docArb },
  docArb.chain((d) => fc.nat(d.length).map((i) => d.slice(0, i) + d.slice(i + 1))),
  docArb.chain((d) => fc.nat(d.length).map((i) => d.slice(0, i) + d.slice(i, i + 1) + d.slice(i))),
);

const PLANS: Record<string, MaskPlan> = {
  'every card detector, last4': compileMaskPlan([{ detector: 'pan', format: 'last4' }, { detector: 'cvv', format: 'full' }, { detector: 'track', format: 'full' }, { detector: 'expiry', format: 'full' }]),
  'pan, full': compileMaskPlan([{ detector: 'pan', format: 'full' }]),
  'pan_any, first6last4': compileMaskPlan([{ detector: 'pan_any', format: 'first6last4' }]),
  'cvv and expiry only': compileMaskPlan([{ detector: 'cvv' }, { detector: 'expiry', format: 'last4' }]),
  'track only': compileMaskPlan([{ detector: 'track' }]),
};

for (const [name, plan] of Object.entries(PLANS)) {
  test(`JSON masked in one scan is the walk's, byte for byte and count for count (${name})`, () => {
    let masked = 0;
    fc.assert(
      fc.property(srcArb, (src) => {
        const walk = maskJsonWalk(plan, src);
        if (walk.text !== src) masked++;
        assert.equal(maskJsonText(plan, src), walk);
      }),
      { numRuns: 1500 },
    );
    assert.ok(masked > 10 && masked < 1400, `documents masked and documents left alike (${masked} of 1500 masked)`);
  });
}

test('long strings (past the native engine\'s prefilter length) are masked as the walk masks them', () => {
  fc.assert(
    fc.property(fc.integer({ min: 400, max: 1500 }), fc.option(printedPanArb), fc.constantFrom('', 'cvv: 123 '), (n, pan, label) => {
      const src = JSON.stringify({ note: 'lorem ipsum '.repeat(n / 12) + label + (pan ?? 'no card'), n: 1 });
      for (const plan of Object.values(PLANS)) assert.equal(maskJsonText(plan, src), maskJsonWalk(plan, src));
    }),
    { numRuns: 100 },
  );
});

test('what the scan masks: card numbers however spelled, values in a key\'s context; not JSON is text', () => {
  const plan = PLANS['every card detector, last4']!;
  const same = ['{"id":"txn_01","score":0.12,"decision":"approve","model":"fraud-v3","card":{"brand":"visa","last4":"1111"}}', '[1, 2.5e10, "card 1234", "\\n\\u00e9"]', '"just text"', '123456789012345678901234567890', '{"cvv":"****","xcvv":[123]}'];
  for (const src of same) assert.equal(maskJsonText(plan, src), { text: src, counts: {}, json: true }, src);
  const cases: [string, string, Record<string, number>][] = [
    ['{"p":"4111 1111 1111 1111"}', '{"p":"**** **** **** 1111"}', { pan: 1 }],
    ['{"p":4111111111111111.5}', '{"p":"************1111.5"}', { pan: 1 }],
    ['{"p":"\\u0034111 1111 1111 1111"}', '{"p":"**** **** **** 1111"}', { pan: 1 }],
    ['{"4111111111111111":1}', '{"************1111":1}', { pan: 1 }],
    ['{"cvv":123, "x": "123"}', '{"cvv":"****", "x": "123"}', { cvv: 1 }],
    ['{"s-ecurity code":" 042 "}', '{"s-ecurity code":"****"}', { cvv: 1 }],
    ['{"card\\u005fexpiry":"12/29"}', '{"card\\u005fexpiry":"****"}', { expiry: 1 }],
    ['{"note":"cvv: 123"}', '{"note":"cvv: ****"}', { cvv: 1 }],
  ];
  for (const [src, text, counts] of cases) assert.equal(maskJsonText(plan, src), { text, counts, json: true }, src);
  assert.equal(maskJsonText(plan, '{"p": 4111111111111111'), { text: '{"p": ************1111', counts: { pan: 1 }, json: false });
  assert.equal(maskJsonText(plan, '{"a":"cvv"} "x": 123').json, false);
});

test.run();
