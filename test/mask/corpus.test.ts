/**
 * The corpus (corpus.ts) through the masker: every issuer row × length × prefix × grouping ×
 * separator, in text, in a JSON string, as a JSON number (plain digits) and as an SSE token stream
 * (three characters a token). Zero leaks: the output shows exactly the last four digits. Near-miss
 * classes that cannot hold an issuer's PAN by construction are left exactly as they were (phone
 * numbers, IBANs and amounts sometimes are one by the digits: bench/mask-corpus.ts counts them).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, maskJsonText, maskText, type MaskPlan } from '../../src/mask/index.js';
import { SseMasker } from '../../src/mask/stream-sse.js';
import { CORPUS_SEPARATORS, corpusPans, groupings, nearMisses, printed } from './corpus.js';

const PAN = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);
/** 12-digit Maestro numbers are `pan_any`'s (pan.ts says why). */
const anyPlan = compileMaskPlan([{ detector: 'pan_any', format: 'last4' }]);
const shownDigits = (s: string) => s.replace(/[^0-9]/g, '');

function sseTokens(plan: MaskPlan, text: string): string {
  const m = new SseMasker(plan, {});
  let out = '';
  for (let i = 0; i < text.length; i += 3) out += m.push(`data: {"choices":[{"index":0,"delta":{"content":${JSON.stringify(text.slice(i, i + 3))}}}]}\n\n`);
  out += m.push('data: [DONE]\n\n') + m.end();
  let shown = '';
  for (const e of out.split('\n\n')) if (e.startsWith('data: {')) shown += JSON.parse(e.slice(6)).choices[0].delta.content;
  return shown;
}

test('every issuer × length × prefix × grouping × separator: only the last four digits reach the output', () => {
  let cases = 0;
  for (const pan of corpusPans()) {
    const last4 = pan.digits.slice(-4);
    const plan = pan.digits.length === 12 ? anyPlan : PAN;
    for (const sizes of groupings(pan.digits.length)) {
      for (const sep of CORPUS_SEPARATORS) {
        const p = printed(pan.digits, sizes, sep);
        const where = `${pan.issuer} ${JSON.stringify(p)}`;
        assert.is(shownDigits(maskText(plan, `card ${p} ok`).text), last4, where);
        assert.is(shownDigits(maskJsonText(plan, `{"card":${JSON.stringify(p)}}`).text), last4, where);
        cases++;
      }
      // Streamed as tokens: the common separators.
      for (const sep of [' ', '', '-', '\u00a0']) assert.is(shownDigits(sseTokens(plan, `card ${printed(pan.digits, sizes, sep)} ok`)), last4, `${pan.issuer} SSE`);
    }
    assert.is(maskJsonText(plan, `{"card":${pan.digits}}`).text, `{"card":${JSON.stringify('*'.repeat(pan.digits.length - 4) + last4)}}`, pan.issuer);
  }
  assert.ok(cases > 20_000, `${cases} cases`);
});

test('near-misses that cannot be an issuer PAN are left alone', () => {
  const classes = nearMisses(500);
  for (const name of ['epoch timestamps (seconds and milliseconds)', 'order and invoice ids', 'UUIDs', 'digit runs of 13–19 without an issuer prefix (0 or 7 first)']) {
    for (const s of classes[name]!) assert.is(maskText(PAN, `x ${s} y`).text, `x ${s} y`, `${name}: ${s}`);
  }
});

test.run();
