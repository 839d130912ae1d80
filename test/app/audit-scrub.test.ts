/**
 * The audit scrubber's digit pre-check (src/app/audit-scrub.ts) gives exactly what the full engine
 * pass gives: a string it passes by is one the engine would have left as it is, whatever its kind
 * (text, JSON, an event stream), its separators, escapes and labels. Differential, over strings an
 * attacker would shape to slip a card datum past a pre-check: few digits with every label and key
 * the detectors read, digits spelled as JSON escapes, PANs of every brand in every grouping and
 * separator of the masking corpus, keys too.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auditScrub, fullAuditScrub } from '../../src/app/audit-scrub.js';
import { compileMaskPlan, maskText } from '../../src/mask/index.js';
import { CARD_RULES, MIN_CARD_DIGITS, scrubCards, tooFewDigits } from '../../src/proxy/card-scrub.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { BRANDS, group, luhnComplete } from '../mask/cards.js';
import { CORPUS_SEPARATORS, groupings } from '../mask/corpus.js';

const digitCount = (s: string) => [...s].filter((c) => c >= '0' && c <= '9').length;
/** What the pre-check must pass by, written plainly: fewer than three digits, and none at all where `exp` could name an expiry's month or year. */
const passable = (s: string) => digitCount(s) < MIN_CARD_DIGITS && (digitCount(s) === 0 || !s.toLowerCase().includes('exp'));

/** Pieces a card datum is built from, or framed in: labels, keys, separators, escapes, SSE and JSON syntax. */
const PIECES = [
  'cvv', 'CVV2', 'cvc', 'cid', 'csc', 'security code', 'card verification', 'exp', 'Expiry', 'expires', 'valid thru', 'good thru', 'expiration date',
  '"cvv":', '"card_cvv":"', '"expiry":"', '"cardExpiry":', '"exp":', '"exp_month":', '"expiryYear":"', '"card_exp_mm":', '"EXP-YY":', ':', '=', ' is ', '"', "'", '/', '-', ' ', '\u00a0', '\u2007', '\u2009', '\u202f', '\u2010', '\u2011', '\u2013', '.',
  '\\u0034', '\\u0031', '\\u003', '\\u00', '\\n', '\\', ';', '%B', 'B', '^', '?', '{', '}', '[', ']', ',', 'data: ', 'event: x\n', '\n\n', '\r\n', ':comment\n', 'id: 1\n',
  'é', '😀', '\ufeff', 'x', 'a', 'Z',
];
const DIGITS = '0123456789'.split('');
/** A string of pieces and digits, digit-heavy or digit-poor as `digitWeight` says. */
const shaped = (digitWeight: number) => fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PIECES) }, { weight: digitWeight, arbitrary: fc.constantFrom(...DIGITS) }), { maxLength: 40 }).map((a) => a.join(''));
/** A document around a shaped string: as text, as a JSON value or key, as an SSE data line. */
const framed = (inner: fc.Arbitrary<string>) => fc.tuple(inner, fc.constantFrom('t', 'jv', 'jk', 'jn', 'sse', 'ssej')).map(([s, how]) => {
  switch (how) {
    case 'jv': return `{"cvv": "${s}", "x": "${s}"}`;
    case 'jk': return `{"${s}": "12"}`;
    case 'jn': return `{"cvc":${s}}`;
    case 'sse': return `data: ${s}\n\ndata: ${s}\n\n`;
    case 'ssej': return `data: {"choices":[{"index":0,"delta":{"content":"${s}"}}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":"${s}"}}]}\n\n`;
    default: return s;
  }
});

test('the threshold: a cvv, an expiry and a JSON-keyed cvv of exactly three digits are masked; an expiry half under its key of one', () => {
  for (const s of ['cvv: 123', 'exp 1/27', '{"cvv":"123"}', '{"expiry":"1/27"}', '{"cvc":123}', '{"exp_month":7}', '{"ExpiryYear":"29"}']) {
    assert.ok(digitCount(s) <= MIN_CARD_DIGITS, s);
    assert.is(tooFewDigits(s), false, s);
    assert.is.not(fullAuditScrub(s), s, `${s} is a finding`);
    assert.is(auditScrub(s), fullAuditScrub(s), s);
  }
  // Two digits without `exp`, or `exp` without a digit: passed by, and unchanged by the engine too.
  for (const s of ['{"month":7,"day":2}', '{"exp_month":"July"}']) {
    assert.is(tooFewDigits(s), true, s);
    assert.is(fullAuditScrub(s), s);
  }
});

test('property: a string the pre-check passes by is one the engine leaves unchanged (digit-poor, every frame)', () => {
  fc.assert(fc.property(framed(shaped(1)), (s) => {
    assert.is(tooFewDigits(s), passable(s));
    if (tooFewDigits(s)) assert.is(fullAuditScrub(s), s);
    assert.is(auditScrub(s), fullAuditScrub(s));
  }), { numRuns: 3000 });
});

test('property: with the pre-check, the scrub equals the full pass (digit-heavy, every frame)', () => {
  fc.assert(fc.property(framed(shaped(8)), (s) => assert.is(auditScrub(s), fullAuditScrub(s))), { numRuns: 3000 });
});

test('property: the same over arbitrary Unicode strings', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), (a, b) => {
    assert.is(auditScrub(a), fullAuditScrub(a));
    assert.is(auditScrub(b), fullAuditScrub(b));
  }), { numRuns: 2000 });
});

test('every brand, grouping and separator of the masking corpus, as text, JSON and SSE: masked with or without the pre-check', () => {
  let masked = 0;
  for (const { prefix, length } of BRANDS) {
    const digits = luhnComplete(prefix.padEnd(length - 1, '4'));
    for (const sizes of groupings(length)) {
      for (const sep of CORPUS_SEPARATORS) {
        const printed = group(digits, sizes, sep);
        for (const s of [printed, `{"n":"${printed}"}`, `data: ${printed}\n\n`, `card ${printed} ok`]) {
          const full = fullAuditScrub(s);
          assert.is(auditScrub(s), full, s);
          if (full !== s) masked++;
        }
      }
    }
  }
  // Not vacuous: the corpus's card numbers are found (most of them; the rest are left by both).
  assert.ok(masked > 1000, `${masked} masked`);
});

test('property: a record scrubbed through canonical JSON, keys included, is the same with the pre-check', () => {
  const str = fc.oneof(framed(shaped(1)), framed(shaped(8)));
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(str, tie('v'), { maxKeys: 4 })),
  })).v;
  fc.assert(fc.property(value, (v) => assert.is(canonicalJson(v, auditScrub), canonicalJson(v, fullAuditScrub))), { numRuns: 500 });
});

test('property: the gateway\'s own text (reasons, error messages) is scrubbed as the full text pass scrubs it, pre-check or not', () => {
  const plan = compileMaskPlan(CARD_RULES);
  fc.assert(fc.property(fc.oneof(framed(shaped(1)), framed(shaped(8))), (s) => assert.is(scrubCards(s), maskText(plan, s).text)), { numRuns: 3000 });
});

test.run();
