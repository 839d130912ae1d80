/**
 * Differential tests against the reference detector (reference.ts): random texts, whole and split
 * at random chunk boundaries, every format and mode, both engines. The masker's output must equal
 * the reference's exactly, so no PAN the reference finds reaches the output and nothing else is
 * touched.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, maskText, type MaskPlan } from '../../src/mask/index.js';
import { TextStreamMasker } from '../../src/mask/stream-text.js';
import { cutsArb, printedPanArb, scriptPanArb, splitAt, textArb } from './arbitraries.js';
import { refFind, refLeaks, refMask, type Format, type Mode } from './reference.js';

const CASES: { mode: Mode; format: Format; plan: MaskPlan }[] = [];
for (const engine of ['native', 'wasm'] as const) {
  for (const mode of ['pan', 'pan_any'] as const) {
    for (const format of ['last4', 'first6last4', 'full'] as const) CASES.push({ mode, format, plan: compileMaskPlan([{ detector: mode, format }], [], { engine }) });
  }
}

function stream(plan: MaskPlan, parts: string[]): string {
  const m = new TextStreamMasker(plan, {});
  let out = '';
  for (const p of parts) out += m.push(p);
  return out + m.end();
}

/** The property both differential tests assert: whole and in random chunks, exactly the reference's output. */
function agreesWithReference(texts: fc.Arbitrary<string>, numRuns: number): void {
  fc.assert(
    fc.property(texts, cutsArb, fc.constantFrom(...CASES), (text, cuts, c) => {
      const expected = refMask(text, c.format, c.mode);
      assert.is(maskText(c.plan, text).text, expected, 'whole');
      assert.is(stream(c.plan, splitAt(text, cuts)), expected, 'streamed');
    }),
    { numRuns },
  );
}

test('random texts: the masker gives exactly the reference output, whole and streamed', () => {
  agreesWithReference(textArb, 1500);
});

test('card numbers in other scripts\' digits (fullwidth, Arabic-Indic, mixed): the masker gives exactly the reference output, whole and streamed', () => {
  const soup = fc.array(fc.oneof({ weight: 3, arbitrary: scriptPanArb }, { weight: 1, arbitrary: textArb }, { weight: 1, arbitrary: fc.constantFrom(' ', ':', 'x', '\u0664', '\uff14\uff11', '  ') }), { maxLength: 6 }).map((a) => a.join(''));
  agreesWithReference(soup, 800);
  // And the reference does see them: a fullwidth Visa keeps only its last four.
  assert.is(refMask('card ４１１１ １１１１ １１１１ １１１１ ok', 'last4'), 'card **** **** **** １１１１ ok');
});

test('every printed PAN of every issuer row is found and loses all but its last four (12-digit Maestro: pan_any)', () => {
  const plans = { pan: CASES.find((c) => c.mode === 'pan' && c.format === 'last4')!.plan, pan_any: CASES.find((c) => c.mode === 'pan_any' && c.format === 'last4')!.plan };
  fc.assert(
    fc.property(printedPanArb, fc.constantFrom(' ', '', ':', '\n', '"'), (pan, edge) => {
      const text = `card${edge === '' ? ' ' : edge}${pan}${edge}.`;
      const mode = pan.replace(/\D/g, '').length === 12 ? 'pan_any' : 'pan';
      assert.ok(refFind(text, mode).length >= 1, 'the reference finds it');
      const out = maskText(plans[mode], text).text;
      assert.is(refLeaks(text, out, 'last4', mode), 0);
      assert.is(out.replace(/\D/g, ''), pan.replace(/\D/g, '').slice(-4));
    }),
    { numRuns: 2000 },
  );
});

test('long texts (where RE2 and the scan-ahead take turns): exactly the reference output', () => {
  const long = fc.array(fc.oneof(textArb, fc.constant('x'.repeat(3000)), fc.constant('1 '.repeat(700))), { minLength: 8, maxLength: 20 }).map((a) => a.join(' '));
  fc.assert(
    fc.property(long, fc.constantFrom(...CASES), (text, c) => {
      assert.is(maskText(c.plan, text).text, refMask(text, c.format, c.mode));
    }),
    { numRuns: 25 },
  );
});

test('streams: one character at a time', () => {
  fc.assert(
    fc.property(textArb, fc.constantFrom(...CASES), (text, c) => {
      assert.is(stream(c.plan, [...text]), refMask(text, c.format, c.mode));
    }),
    { numRuns: 300 },
  );
});

test('the issue\'s examples', () => {
  const last4 = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);
  assert.is(maskText(last4, '3622 7206 2716 67').text, '**** **** **16 67');
  for (const t of ['4111 1111 1111 1111 1', '6011 0000 0000 0000 04', '6011 0000 0000 0000 004']) assert.is(refLeaks(t, maskText(last4, t).text, 'last4'), 0, t);
});

test.run();
