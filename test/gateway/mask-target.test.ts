/**
 * The request target masked on its way upstream (src/proxy/mask-target.ts), as an attacker would
 * write a card number into a URL: every issuer's numbers in their groupings, joined by separators
 * a URL carries (`%20`, `+` in a query, `-`, `.`, `_`, `/`), any of their characters
 * percent-encoded, fullwidth digits as UTF-8; checked with the reference detector on the target as
 * the upstream decodes it, and the target's structure (`/`, `?`, `&`, `=`) kept.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, maskText } from '../../src/mask/index.js';
import { CARD_RULES } from '../../src/proxy/index.js';
import { UnmaskableTarget } from '../../src/proxy/errors.js';
import { maskTarget } from '../../src/proxy/mask-target.js';
import { BRANDS, luhnComplete } from '../mask/cards.js';
import { refFind } from '../mask/reference.js';

const plan = compileMaskPlan(CARD_RULES);
const mask = (t: string) => maskText(plan, t).text;

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
      const out = maskTarget(target, mask);
      assert.equal(refFind(decoded(out)), [], `${target} went up as ${out}`);
      assert.is(structure(out), structure(target), 'the same segments and parameters');
    }), { numRuns: 2000 });
});

test('a target without card data goes up byte for byte, malformed escapes included', () => {
  for (const t of ['/v1/chat/completions', '/v1/score?amount=12.50&merchant=m-42', '/v1/x?q=hello%20world+again&n=42', '/v1/x?a=%zz&b=%E2%82&c=%', '/v1/orders/2026-12-01/7', '/v1/x?ts=1764600000000']) {
    assert.is(maskTarget(t, mask), t, t);
  }
});

test('what the masker changes is written back in place: last four shown, escapes kept where nothing changed', () => {
  assert.is(maskTarget('/v1/c?card=4111%201111%201111%201111&d=2', mask), '/v1/c?card=****%20****%20****%201111&d=2');
  assert.is(maskTarget('/v1/c?card=%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31', mask), '/v1/c?card=************%31%31%31%31');
  assert.is(maskTarget('/v1/cards/4111/1111/1111/1111/score', mask), '/v1/cards/****/****/****/1111/score');
  assert.is(maskTarget('/v1/c?card=%EF%BC%94111111111111111', mask), '/v1/c?card=************1111');
});

test('a finding whose mask changes its length is masked as written; percent-encoded, it is refused with 400', () => {
  assert.is(maskTarget('/v1/c?cvv=123&x=1', mask), '/v1/c?cvv=****&x=1');
  const err = (() => {
    try {
      maskTarget('/v1/c?cvv=%31%32%33', mask);
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.instance(err, UnmaskableTarget);
  assert.is((err as UnmaskableTarget).code, 'ERR_UNMASKABLE_TARGET');
  assert.is((err as UnmaskableTarget).status, 400);
});

test.run();
