/** Detectors, formats, JSON paths and rule errors, one-shot. */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, containsPan, maskJsonText, maskText, type MaskPlan } from '../../src/mask/index.js';
import { fillerArb, luhnComplete, panArb } from './cards.js';

/** A value masked as the JSON text it serialises to, read back. */
function maskJson(plan: MaskPlan, value: unknown): { value: unknown; counts: Record<string, number> } {
  const r = maskJsonText(plan, JSON.stringify(value));
  return { value: JSON.parse(r.text) as unknown, counts: r.counts };
}


const ALL = compileMaskPlan([{ detector: 'pan', format: 'first6last4' }, { detector: 'cvv' }, { detector: 'expiry' }, { detector: 'track' }]);

test('every brand and grouping in random text is masked, and only its middle digits', () => {
  fc.assert(
    fc.property(fillerArb, panArb, fillerArb, (a, pan, b) => {
      const r = maskText(ALL, `${a} ${pan.printed} ${b}`);
      assert.not.ok(containsPan(r.text), r.text);
      assert.ok(r.text.includes(pan.printed.slice(-4)));
      // Another PAN may overlap this one (a tail of its groups can be a PAN too): each is counted.
      assert.ok(r.counts.pan! >= 1);
    }),
    { numRuns: 300 },
  );
});

test('formats keep separators where digits show', () => {
  const last4 = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);
  const full = compileMaskPlan([{ detector: 'pan', format: 'full' }]);
  assert.is(maskText(ALL, 'x 4111-1111-1111-1111 y').text, 'x 4111-11**-****-1111 y');
  assert.is(maskText(last4, '4111 1111 1111 1111').text, '**** **** **** 1111');
  assert.is(maskText(full, '4111 1111 1111 1111').text, '****');
});

test('false positives are left alone', () => {
  const cases = [
    'call +1 (415) 555-0132 or +44 20 7946 0958',
    'order 2024-000123-45678',
    'at 2024-05-06T07:08:09.123Z and 1714978089123',
    'id 123e4567-e89b-12d3-a456-426614174000 and 12345678-1234-1234-1234-123456789012',
    'luhn-bad 4111111111111112',
    'unknown brand 1234567812345670',
    'run ' + luhnComplete('4111111111111111111') + '1',
  ];
  for (const c of cases) assert.is(maskText(ALL, c).text, c, c);
  fc.assert(
    fc.property(panArb, fc.stringMatching(/^\d{1,5}$/), (pan, extra) => {
      const longer = pan.digits + '7'.repeat(Math.max(0, 20 - pan.digits.length - extra.length)) + extra; // > 19 digits
      assert.is(maskText(ALL, `n ${longer} n`).text, `n ${longer} n`);
    }),
    { numRuns: 100 },
  );
});

test('cvv and expiry only in context', () => {
  assert.is(maskText(ALL, 'CVV 123; security code is 4567; "cvc": "999"').text, 'CVV ****; security code is ****; "cvc": "****"');
  assert.is(maskText(ALL, 'Expiry: 07/2029, valid thru 12-27').text, 'Expiry: ****, valid thru ****');
  assert.is(maskText(ALL, 'room 123 on 12/27').text, 'room 123 on 12/27');
});

test('expiry written the ISO way (YYYY-MM), in text and under a key; not without a label, with no month, or as a date with a day', () => {
  assert.is(maskText(ALL, 'Expires 2027-01; exp: 2031 / 12, valid thru 2029/07').text, 'Expires ****; exp: ****, valid thru ****');
  assert.equal(maskText(ALL, 'expiry_date: 2027-01').counts, { expiry: 1 });
  const kept = 'released 2027-01, exp 2027-13, expiry 2100-01, expires 2026-12-01T10:00:00Z, expires 2027-01-15, exp 2027/01/15';
  assert.is(maskText(ALL, kept).text, kept);
  assert.equal(maskJson(ALL, { expiry_date: '2027-01', expiration: '2030/11', shipped: '2027-01', expires: '2027-01-15' }).value, { expiry_date: '****', expiration: '****', shipped: '2027-01', expires: '2027-01-15' });
});

test('the month and the year of an expiry kept apart (exp_month/exp_year) are masked as an expiry; other months and years are not', () => {
  const card = { brand: 'visa', last4: '1111', exp_month: 12, exp_year: 2029, expirationMonth: '07', expiryYear: '29', card_exp_mm: ' 3 ', exp_yyyy: 2031 };
  const r = maskJson(ALL, card);
  assert.equal(r.value, { brand: 'visa', last4: '1111', exp_month: '****', exp_year: '****', expirationMonth: '****', expiryYear: '****', card_exp_mm: '****', exp_yyyy: '****' });
  assert.equal(r.counts, { expiry: 6 });
  // A month or a year alone, a value of the wrong shape, a word that only starts like one: kept.
  const kept = { month: 12, year: 2029, exp_month: 13, exp_year: 202, expMonth: 'July', exponent_month: 4, exp_month_count: 3, expiryYear: 2029.5 };
  assert.equal(maskJson(ALL, kept).value, kept);
  // Only with the expiry detector on.
  assert.equal(maskJson(compileMaskPlan([{ detector: 'pan' }, { detector: 'cvv' }]), { exp_month: 12 }).value, { exp_month: 12 });
});

test('custom detectors with validators', () => {
  const plan = compileMaskPlan([{ detector: 'iban', format: 'last4' }, { detector: 'acct' }], [
    { name: 'iban', pattern: '[A-Z]{2}\\d{2}[A-Z0-9]{11,30}', maxLength: 34, validate: (s) => s.startsWith('DE') },
    { name: 'acct', pattern: 'ACCT-\\d{12}', validate: 'luhn' },
  ]);
  const r = maskText(plan, 'DE89370400440532013000 GB29NWBK60161331926819 ACCT-' + luhnComplete('12345678901') + ' ACCT-123456789012');
  assert.is(r.text, '******************3000 GB29NWBK60161331926819 **** ACCT-123456789012');
  assert.equal(r.counts, { iban: 1, acct: 1 });
});

test('JSON paths mask whole fields; keys give cvv/expiry context; numbers become strings', () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }, { detector: 'cvv' }, { detector: 'expiry' }, { path: '$.card.number' }, { path: '$.rows[*].pan', format: 'last4' }, { path: '$..secret' }]);
  const r = maskJson(plan, {
    card: { number: 'abc', cardCvv: 123, exp_date: '09/28', holder: 'Ann' },
    rows: [{ pan: '4111111111111111' }, { pan: null }],
    deep: { x: [{ secret: { a: 1 } }] },
    note: 'paid with 5500 0000 0000 0004',
    raw: 4111111111111111,
    count: 3,
  });
  assert.equal(r.value, {
    card: { number: '****', cardCvv: '****', exp_date: '****', holder: 'Ann' },
    rows: [{ pan: '************1111' }, { pan: null }],
    deep: { x: [{ secret: '****' }] },
    note: 'paid with **** **** **** 0004',
    raw: '************1111',
    count: 3,
  });
  assert.equal(r.counts, { '$.card.number': 1, cvv: 1, expiry: 1, '$.rows[*].pan': 1, '$..secret': 1, pan: 2 });
});

test('bad rules are typed errors naming the rule', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code + ':' + (e as Error).message;
    }
    return 'no error';
  };
  assert.match(code(() => compileMaskPlan([{ detector: 'nope' }])), /^ERR_MASK_RULE:.*unknown detector "nope"/);
  assert.match(code(() => compileMaskPlan([{ path: 'card.cvv' }])), /^ERR_MASK_RULE:.*must start with "\$"/);
  assert.match(code(() => compileMaskPlan([{ detector: 'x' }], [{ name: 'x', pattern: '(?<=a)b' }])), /^ERR_MASK_RULE:.*custom detector "x"/);
  assert.match(code(() => compileMaskPlan([{ detector: 'pan', path: '$.a' }])), /^ERR_MASK_RULE:.*exactly one/);
});

test('plans are cached per distinct rule set', () => {
  assert.is(compileMaskPlan([{ detector: 'pan' }]), compileMaskPlan([{ detector: 'pan' }]));
  assert.is.not(compileMaskPlan([{ detector: 'pan' }]), compileMaskPlan([{ detector: 'pan', format: 'last4' }]));
});

test('the prefilter never points past a match: RE2 asked from its position finds what RE2 asked from the start finds', () => {
  const pass = ALL.passes[0]!;
  const piece = fc.oneof(
    fc.stringMatching(/^[0-9 -]{1,20}$/),
    fc.constantFrom('cvv', 'CVC2', 'cid', 'csc', 'cſc', 'ſec', 'security code', 'expiry', 'EXP', 'valid thru', 'good thru', 'Card Verification', 'card', 'CARD_', 'card-v', 'ſ', 'K', ':', '=', '"', '/', '^', ';', '%B', 'B', '4111 1111 1111 1111', '411111111111', '12/29'),
    fc.stringMatching(/^[0-9a-f]{1,12}$/),
    fc.string({ maxLength: 6 }),
    fc.string({ unit: 'grapheme', maxLength: 3 }),
  );
  let skipped = 0;
  let moved = 0;
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 10 }).map((xs) => xs.join('')), fc.nat(), (s, n) => {
      const from = n % (s.length + 1);
      const at = pass.firstCandidate!(s, from);
      const m = pass.pattern.next(s, from);
      if (at < 0) {
        skipped++;
        assert.is(m, null, `no candidate said for ${JSON.stringify(s)} from ${from}`);
        return;
      }
      assert.ok(at >= from, 'never before from');
      if (at > from) moved++;
      if (m) assert.ok(m.start >= at, `match at ${m.start} before the prefilter's ${at} in ${JSON.stringify(s)}`);
    }),
    { numRuns: 5000 },
  );
  // The bounded form the JSON screen uses: a piece of a text read alone.
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 10 }).map((xs) => xs.join('')), fc.nat(), fc.nat(), (s, a, b) => {
      const [from, to] = [a % (s.length + 1), b % (s.length + 1)].sort((x, y) => x - y) as [number, number];
      if (!pass.screen!(s, from, to)) assert.is(pass.pattern.next(s.slice(from, to), 0), null, `screened out ${JSON.stringify(s.slice(from, to))}`);
    }),
    { numRuns: 5000 },
  );
  assert.ok(skipped > 500, 'the prefilter does rule texts out');
  assert.ok(moved > 500, 'the prefilter does move RE2 past text that cannot hold a candidate');
  assert.is(pass.firstCandidate!('3f1b2c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d', 0), -1);
  // A card number alone is the PAN pass's: no RE2 call here. Track data is a candidate from two
  // characters before its digits (`%B`, `;`).
  assert.is(pass.firstCandidate!('order #12345; 4111 1111 1111 1111', 0), -1);
  assert.is(pass.firstCandidate!('card 4111 1111 1111 1111 on file', 0), -1, '"card" alone is no label');
  const track = 'order #12345; 4111111111111111=25121010000000000';
  const at = pass.firstCandidate!(track, 0);
  assert.is(at, track.indexOf('4111') - 2, `a track, less the two characters it may start with (${at})`);
  assert.ok(pass.pattern.next(track, at)!.start >= at);
  assert.is(pass.firstCandidate!('ok 123 then cvv: 999', 0), 'ok 123 then '.length - 2, 'the label, less two');
});

test.run();
