/**
 * JSON without loss: random documents written as source text (numbers beyond 2^53, escapes, lone
 * surrogates, odd white space), masked and compared byte for byte with what the reference says:
 * every string, key and number the reference would mask is masked, and every other byte is the
 * input's. The source parser agrees with JSON.parse on what is JSON and what each string holds.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, maskJsonText } from '../../src/mask/index.js';
import { parseJsonSource, type JsonNode } from '../../src/mask/json-source.js';
import { issuerDigitsArb, textArb } from './arbitraries.js';
import { refMask } from './reference.js';

const ws = fc.constantFrom('', ' ', '\n  ', '\t');
const stringArb = fc.oneof(textArb, fc.constantFrom('\ud800', 'a\udc00b', '\\', '"q"', '\u2028')).map((s) => ({ src: escapeSome(s), value: s }));
/** JSON.stringify, then some characters spelled as \u escapes, as other encoders do. */
function escapeSome(s: string): string {
  const j = JSON.stringify(s);
  return j.replace(/[ -]/g, (c) => (c === ' ' ? '\\u0020' : c));
}
/** A card number in exponent notation, as other encoders print it: 4.111111111111111e15, 41111111111111110E-1, 4111111111111111e+0. */
const exponentPanArb = fc.tuple(issuerDigitsArb, fc.integer({ min: 1, max: 19 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom('e', 'E', 'e+', 'E-'), fc.boolean()).map(([d, point, zeros, e, negative]) => {
  const at = Math.min(point, d.length);
  const mantissa = `${d.slice(0, at)}${at < d.length ? `.${d.slice(at)}` : ''}${at < d.length ? '0'.repeat(zeros) : ''}`;
  const exp = d.length - at;
  // `E-` spells the same value with the mantissa's digits shifted up by one more zero.
  const body = e === 'E-' ? `${d}${'0'.repeat(zeros + 1)}E-${zeros + 1}` : `${mantissa}${e}${exp}`;
  return `${negative ? '-' : ''}${body}`;
});
const numberArb = fc.oneof(issuerDigitsArb, issuerDigitsArb.map((d) => `-${d}`), exponentPanArb, fc.constantFrom('0', '-0.5', '1e400', '6548686408882000464', '4006024084268084042', '3.141592653589793', '0.2345678901234567', '4111111111111111.0', '4111111111111111e0'), fc.integer().map(String));

interface Doc {
  src: string;
}
const docArb: fc.Arbitrary<Doc> = fc.letrec<{ v: Doc }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    stringArb.map((s) => ({ src: s.src })),
    numberArb.map((n) => ({ src: n })),
    fc.constantFrom('true', 'false', 'null').map((src) => ({ src })),
    fc.tuple(ws, fc.array(fc.tuple(tie('v'), ws), { maxLength: 4 })).map(([w, items]) => ({ src: `[${w}${items.map(([d, w2]) => d.src + w2).join(',')}]` })),
    fc.tuple(ws, fc.array(fc.tuple(stringArb, tie('v'), ws), { maxLength: 4 })).map(([w, entries]) => ({ src: `{${w}${entries.map(([k, d, w2]) => `${k.src}${w2}:${d.src}`).join(',')}}` })),
  ),
})).v;

/** What the reference says each leaf becomes; the rest of the source is kept. */
function expected(src: string, format: 'last4' | 'full'): string {
  const root = parseJsonSource(src)!;
  const edits: { start: number; end: number; text: string }[] = [];
  const visit = (n: JsonNode) => {
    if (n.kind === 'object') {
      for (const e of n.entries) {
        const k = refMask(e.key.value, format);
        if (k !== e.key.value) edits.push({ start: e.key.start, end: e.key.end, text: JSON.stringify(k) });
        visit(e.value);
      }
    } else if (n.kind === 'array') {
      n.items.forEach(visit);
    } else if (n.kind === 'string') {
      const m = refMask(n.value, format);
      if (m !== n.value) edits.push({ start: n.start, end: n.end, text: JSON.stringify(m) });
    } else if (n.kind === 'number') {
      const raw = src.slice(n.start, n.end);
      const [, sign, whole, fraction, exponent] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(raw)!;
      if (exponent === undefined) {
        // The digits before the point are the integer part; the rest is kept as written.
        const int = sign! + whole!;
        const m = refMask(int, format);
        if (m !== int) edits.push({ start: n.start, end: n.end, text: JSON.stringify(m + raw.slice(int.length)) });
      } else {
        // The value's integer part: the point moved `exponent` places along the mantissa's digits.
        let digits = whole! + (fraction ?? '');
        const point = whole!.length + Number(exponent);
        if (point > 0 && point <= 60) {
          if (point > digits.length) digits += '0'.repeat(point - digits.length);
          const int = sign! + (digits.slice(0, point).replace(/^0+(?=\d)/, ''));
          const frac = digits.slice(point).replace(/0+$/, '');
          const m = refMask(int, format);
          if (m !== int) edits.push({ start: n.start, end: n.end, text: JSON.stringify(m + (frac ? `.${frac}` : '')) });
        }
      }
    }
  };
  visit(root);
  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += src.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + src.slice(at);
}

for (const format of ['last4', 'full'] as const) {
  const plan = compileMaskPlan([{ detector: 'pan', format }]);
  test(`random JSON documents (${format}): exactly the reference's masking, every other byte kept`, () => {
    fc.assert(
      fc.property(docArb, (doc) => {
        const r = maskJsonText(plan, doc.src);
        assert.ok(r.json);
        assert.is(r.text, expected(doc.src, format));
        JSON.parse(r.text); // still JSON
      }),
      { numRuns: 600 },
    );
  });
}

test('the source parser accepts exactly what JSON.parse accepts, with the same strings', () => {
  const near = fc.oneof(docArb.map((d) => d.src), docArb.chain((d) => fc.nat(d.src.length).map((i) => d.src.slice(0, i) + d.src.slice(i + 1))), fc.string(), fc.constantFrom('', ' ', '01', '1.', '.5', '"\\x"', '"\t"', '[1,]', '{"a":1,}', '\ufeff1', 'tru', 'nul', '"\\ud800"', '1 2', '-', '--1', '1e', '[1]]'));
  fc.assert(
    fc.property(near, (src) => {
      let parsed: unknown;
      let ok = true;
      try {
        parsed = JSON.parse(src);
      } catch {
        ok = false;
      }
      const root = parseJsonSource(src);
      assert.is(root !== undefined, ok, src);
      if (root?.kind === 'string') assert.is(root.value, parsed);
    }),
    { numRuns: 2000 },
  );
});

test("the issue's numbers: beyond 2^53 masked from their digits; other fields keep their bytes", () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }, { path: '$.cvv' }]);
  assert.is(maskJsonText(plan, '{"pan":6548686408882000464}').text, '{"pan":"***************0464"}');
  const src = '{"a":4006024084268084042, "big": 12345678901234567890123, "f": 1.50, "e":"\\u0041", "cvv": "123"}';
  assert.is(maskJsonText(plan, src).text, '{"a":"***************4042", "big": 12345678901234567890123, "f": 1.50, "e":"\\u0041", "cvv": "****"}');
  // A lone surrogate escape is JSON like any other string.
  assert.is(maskJsonText(plan, '{"e":"\\ud800","p":"4111 1111 1111 1111"}').text, '{"e":"\\ud800","p":"**** **** **** 1111"}');
  // Not JSON: masked as text.
  const r = maskJsonText(plan, '{"p": 4111111111111111');
  assert.equal([r.json, r.text], [false, '{"p": ************1111']);
});

test('deep nesting costs no stack', () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);
  const deep = '['.repeat(100_000) + '"4111111111111111"' + ']'.repeat(100_000);
  assert.is(maskJsonText(plan, deep).text, '['.repeat(100_000) + '"************1111"' + ']'.repeat(100_000));
});

test.run();
