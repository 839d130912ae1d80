/**
 * URL-encoded text masked as decoded (src/mask/url-encoded.ts): a request target on its way
 * upstream and a form body, as an attacker would write a card number into them: every issuer's
 * numbers in their groupings, joined by separators a URL carries (`%20`, `+` in a query or a form,
 * `-`, `.`, `_`, `/`), any of their characters percent-encoded, fullwidth digits as UTF-8; checked
 * with the reference detector on the text as its reader decodes it, and the structure (`/`, `?`,
 * `&`, `=`) kept.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, maskText, maskUrlEncoded } from '../../src/mask/index.js';
import { CARD_RULES } from '../../src/proxy/index.js';
import { BRANDS, luhnComplete } from './cards.js';
import { refFind } from './reference.js';

const plan = compileMaskPlan(CARD_RULES);
const mask = (t: string) => maskText(plan, t).text;
/** A request target masked in place (`+` a space in its query), or null when it cannot be. */
function maskTarget(target: string): string | null {
  const q = target.indexOf('?');
  const r = maskUrlEncoded(target, mask, q < 0 ? target.length : q + 1);
  return r.inPlace ? r.text : null;
}
/** A form body as its reader decodes it: `+` a space everywhere. */
const decodedForm = (form: string) => decodeURIComponent(form.replaceAll('+', ' '));

/** The target as the upstream reads it: percent-decoded, `+` a space in the query. */
function decoded(target: string): string {
  const q = target.indexOf('?');
  const dec = (s: string) => decodeURIComponent(s);
  return q < 0 ? dec(target) : `${dec(target.slice(0, q))}?${dec(target.slice(q + 1).replaceAll('+', ' '))}`;
}

const structure = (t: string) => [...t].filter((c) => '/?&='.includes(c)).join('');

/** A character as a client may send it in a URL: as it is, or percent-encoded (UTF-8). */
const written = (c: string, encode: boolean) => (encode ? [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('') : c);

const FULLWIDTH = (d: string) => String.fromCharCode(0xff10 + Number(d));

const card = fc.tuple(fc.constantFrom(...BRANDS), fc.integer({ min: 0, max: 10 ** 9 })).map(([b, n]) => {
  const body = (b.prefix + String(n).padStart(9, '0')).padEnd(b.length - 1, '7').slice(0, b.length - 1);
  return { digits: luhnComplete(body), groups: b.groups };
});

test('property: a card number in the path or query, grouped, separated and percent-encoded any way, does not reach the upstream; the structure stays', () => {
  fc.assert(fc.property(card, fc.nat(), fc.constantFrom('%20', '+', '-', '.', '_', '/', ''), fc.boolean(), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), fc.constantFrom('path', 'query'),
    ({ digits, groups }, g, sep, fullwidth, encodeMask, where) => {
      const sizes = groups[g % groups.length]!;
      let at = 0;
      const parts = sizes.map((n) => digits.slice(at, (at += n)));
      // A separator a path cannot carry as a space (`+` is itself there) is written as `%20` instead.
      const joiner = where === 'path' && sep === '+' ? '%20' : sep;
      const printed = parts.map((p, i) => [...p].map((d, k) => written(fullwidth ? FULLWIDTH(d) : d, encodeMask[(i * 5 + k) % 40]!)).join('')).join(joiner);
      const target = where === 'path' ? `/v1/cards/${printed}/score?x=1&y=2` : `/v1/chat/completions?model=m&card=${printed}&n=3`;
      assert.ok(refFind(decoded(target)).length > 0, `the reference finds the card in ${target}`);
      const out = maskTarget(target)!;
      assert.equal(refFind(decoded(out)), [], `${target} went up as ${out}`);
      assert.is(structure(out), structure(target), 'the same segments and parameters');
    }), { numRuns: 2000 });
});

test('a target without card data goes up byte for byte, malformed escapes included', () => {
  for (const t of ['/v1/chat/completions', '/v1/score?amount=12.50&merchant=m-42', '/v1/x?q=hello%20world+again&n=42', '/v1/x?a=%zz&b=%E2%82&c=%', '/v1/orders/2026-12-01/7', '/v1/x?ts=1764600000000']) {
    assert.is(maskTarget(t), t, t);
  }
});

test('what the masker changes is written back in place: last four shown, escapes kept where nothing changed', () => {
  assert.is(maskTarget('/v1/c?card=4111%201111%201111%201111&d=2'), '/v1/c?card=****%20****%20****%201111&d=2');
  assert.is(maskTarget('/v1/c?card=%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31'), '/v1/c?card=************%31%31%31%31');
  assert.is(maskTarget('/v1/cards/4111/1111/1111/1111/score'), '/v1/cards/****/****/****/1111/score');
  assert.is(maskTarget('/v1/c?card=%EF%BC%94111111111111111'), '/v1/c?card=************1111');
});

test('a finding whose mask changes its length is masked as written; percent-encoded, it cannot be masked in place, and the decoded text is masked for the record', () => {
  assert.is(maskTarget('/v1/c?cvv=123&x=1'), '/v1/c?cvv=****&x=1');
  assert.is(maskTarget('/v1/c?cvv=%31%32%33'), null);
  const r = maskUrlEncoded('cvv=%31%32%33', mask, 0);
  assert.is(r.inPlace, false);
  assert.is(r.text, 'cvv=****');
});

test('property: a form body with a card number in any grouping and encoding is masked as its reader decodes it, fields kept', () => {
  fc.assert(fc.property(card, fc.nat(), fc.constantFrom('+', '%20', '-', '.', ''), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), ({ digits, groups }, g, sep, encodeMask) => {
    const sizes = groups[g % groups.length]!;
    let at = 0;
    const printed = sizes.map((n) => digits.slice(at, (at += n))).map((p, i) => [...p].map((d, k) => written(d, encodeMask[(i * 5 + k) % 40]!)).join('')).join(sep);
    const form = `name=A+Cardholder&card=${printed}&amount=12.50`;
    assert.ok(refFind(decodedForm(form)).length > 0, form);
    const r = maskUrlEncoded(form, mask, 0);
    assert.ok(r.inPlace, form);
    assert.equal(refFind(decodedForm(r.text)), [], `${form} became ${r.text}`);
    assert.is(structure(r.text), structure(form));
    assert.ok(r.text.startsWith('name=A+Cardholder&card=') && r.text.endsWith('&amount=12.50'), r.text);
  }), { numRuns: 1000 });
});

test.run();
