/** The same correctness corpus against both RE2 engines: offsets in UTF-16, astral text before matches. */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { selectEngine, type EngineName } from '../../src/mask/engine.js';
import { compileMaskPlan, maskText } from '../../src/mask/index.js';

const ENGINES: EngineName[] = ['native', 'wasm'];

const CORPUS: [string, string][] = [
  ['card 4111 1111 1111 1111 ok', 'card **** **** **** 1111 ok'],
  ['😀😀😀 4111111111111111', '😀😀😀 ************1111'],
  ['𝄞 x 𝄞 5500-0000-0000-0004 then 😀 3782 822463 10005', '𝄞 x 𝄞 ****-****-****-0004 then 😀 **** ****** *0005'],
  ['é😀é cvv: 123, exp 12/29', 'é😀é cvv: ****, exp ****'],
  ['track ;4111111111111111=29121010000000000000?', 'track ****'],
  ['%B4111111111111111^DOE/JOHN^2912101000000000000?', '****'],
  ['no cards here, 2024-01-02T10:30:00Z, +1 415-555-0132', 'no cards here, 2024-01-02T10:30:00Z, +1 415-555-0132'],
];

for (const name of ENGINES) {
  test(`${name}: corpus masks at the right UTF-16 offsets`, () => {
    const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }, { detector: 'cvv' }, { detector: 'expiry' }, { detector: 'track' }], [], { engine: name });
    for (const [input, expected] of CORPUS) assert.is(maskText(plan, input).text, expected, input);
  });

  test(`${name}: long text with many matches far apart and close together`, () => {
    const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }], [], { engine: name });
    const unit = '😀 lorem ipsum '.repeat(200) + '4111111111111111 ' + '5500 0000 0000 0004 '.repeat(3);
    const text = unit.repeat(50);
    const r = maskText(plan, text);
    assert.is(r.counts.pan, 200);
    assert.is(r.text, text.replaceAll('4111111111111111', '************1111').replaceAll('5500 0000 0000 0004', '**** **** **** 0004'));
  });

  test(`${name}: next() reports UTF-16 offsets and named groups`, () => {
    const p = selectEngine(name).compile('(?P<a>x+)|(?P<b>y+)', { maxLength: 10 });
    const m = p.next('😀😀yy x', 0)!;
    assert.equal([m.start, m.end, m.groups], [4, 6, ['b']]);
    assert.equal(p.next('😀😀yy x', 6)!.groups, ['a']);
    assert.is(p.next('😀😀yy x', 8), null);
  });
}

test('property: native RE2 (asked directly on long texts) and re2-wasm (always behind the prefilter) mask any text alike', () => {
  const rules = [{ detector: 'pan', format: 'last4' as const }, { detector: 'cvv' }, { detector: 'expiry' }, { detector: 'track' }];
  const native = compileMaskPlan(rules, [], { engine: 'native' });
  const wasm = compileMaskPlan(rules, [], { engine: 'wasm' });
  const piece = fc.oneof(
    fc.constantFrom('4111 1111 1111 1111', '5500-0000-0000-0004', 'cvv: 123', 'CVC2=9876', 'exp 12/29', 'valid thru 01/2030', ';4111111111111111=29121010?', 'ſec code 123', ' order 12345 ', '😀', '\n'),
    fc.string({ maxLength: 8 }),
    fc.stringMatching(/^[0-9 -]{1,24}$/),
    fc.nat({ max: 900 }).map((n) => 'lorem ipsum '.repeat(Math.ceil(n / 12)).slice(0, n)),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }).map((xs) => xs.join('')), (text) => {
      const a = maskText(native, text);
      const b = maskText(wasm, text);
      assert.is(a.text, b.text, JSON.stringify(text));
      assert.equal(a.counts, b.counts);
    }),
    { numRuns: 300 },
  );
});

test('REGATE_RE2 selects the engine; a bad value is a typed error', () => {
  const before = process.env.REGATE_RE2;
  try {
    process.env.REGATE_RE2 = 'wasm';
    assert.is(selectEngine().name, 'wasm');
    process.env.REGATE_RE2 = 'native';
    assert.is(selectEngine().name, 'native');
    process.env.REGATE_RE2 = 'perl';
    assert.throws(() => selectEngine(), (e: Error & { code?: string }) => e.code === 'ERR_MASK_ENGINE');
  } finally {
    if (before === undefined) delete process.env.REGATE_RE2;
    else process.env.REGATE_RE2 = before;
  }
});

test.run();
