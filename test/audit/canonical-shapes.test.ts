/**
 * Canonical JSON's shape cache (src/audit/canonical.ts): the sorted order, quoted names and name
 * scrub each object shape remembers give exactly the text of the uncached walk, for the record
 * shapes the gateway writes and for any other object, on first sight and every time after, with
 * the scrub or the keep set changing between calls, and names that scrub to something else.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson, canonicalJsonUncached } from '../../src/audit/canonical.js';
import { eventJson, type AuditEvent } from '../../src/audit/index.js';
import { auditScrub } from '../../src/app/index.js';

const digitsToHash = (s: string) => s.replace(/[0-9]/g, '#');
const upper = (s: string) => s.toUpperCase();
const SCRUBS = [undefined, digitsToHash, upper, auditScrub];
const KEEPS = [undefined, new Set(['request_id', 'a', '1']), new Set<string>()];

/** Names that repeat across objects (so shapes are met again), integer-like, colliding once scrubbed, and odd. */
const name = fc.oneof(fc.constantFrom('a', 'b', 'B', '1', '2', '10', 'a1', 'a2', 'request_id', 'type', '__proto__', 'toString', '', 'é', '\ud83d\ude00', '\ufb33', 'x'.repeat(70)), fc.string({ maxLength: 4 }));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 8 }), fc.constantFrom('4111 1111 1111 1111', 'cvv 123', 'id-42'), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(name, tie('v'), { maxKeys: 5 })),
})).v;

test('property: the cached walk writes exactly the uncached one, whatever the scrub and keep set, call after call', () => {
  fc.assert(fc.property(fc.array(fc.tuple(value, fc.nat(SCRUBS.length - 1), fc.nat(KEEPS.length - 1)), { minLength: 1, maxLength: 6 }), (calls) => {
    // The same values again, with another scrub, then another keep set: shapes met before, called otherwise than last time.
    const again = calls.map(([v, s, k]) => [v, (s + 1) % SCRUBS.length, k] as const);
    for (const [v, s, k] of [...calls, ...again, ...again.map(([v, s, k]) => [v, s, (k + 1) % KEEPS.length] as const)]) {
      const scrub = SCRUBS[s];
      const keep = KEEPS[k];
      let expected: string | Error;
      try {
        expected = canonicalJsonUncached(v, scrub, keep);
      } catch (err) {
        expected = err as Error;
      }
      if (expected instanceof Error) assert.throws(() => canonicalJson(v, scrub, keep));
      else assert.is(canonicalJson(v, scrub, keep), expected);
    }
  }), { numRuns: 1500 });
});

test('the record shapes the gateway writes: the same bytes cached and uncached, with the audit scrubber', () => {
  const decision = {
    type: 'request.decision', request_id: 'c318eb65-b13d-4221-9ce0-b283c1ec43d5', subject: 'alice', groups: ['fraud-analysts'], client: '127.0.0.1', route: 'fraud-model', upstream: 'stub',
    method: 'POST', path: '/v1/score', decision: { effect: 'mask', reason: 'POST /v1/score allowed for fraud-analysts, card 4111 1111 1111 1111', rules: ['allow.permitted'], policy_revision: 'sha256:92b3844a939c88c9' },
    approval: null, request_body: { bytes: 57, sha256: 'a6198bf19ba0294ba2c6afaabb4c120dac46c333e35b00b2ee77b8b3fa0ea86c', text: '{"card":"4111111111111111","cvv":"123"}', truncated: false },
    policy_input: '{"identity":{"sub":"alice"},"request":{"body":null,"headers":{"x-card":"4111-1111-1111-1111"}},"time":{"now_ns":1796129174875000000}}',
  };
  const outcome = { type: 'request.outcome', request_id: decision.request_id, status: 200, bytes_in: 57, bytes_out: 107, duration_ms: 3, masked: { pan: 1 }, response_body: { bytes: 107, sha256: '00', text: 'exp 12/29', truncated: false }, error: null };
  for (let round = 0; round < 3; round++) {
    for (const e of [decision, outcome]) {
      const text = eventJson(e as unknown as AuditEvent, auditScrub);
      assert.is(text, canonicalJsonUncached(e, auditScrub, new Set(['request_id', 'hold_id', 'grant_id', 'approval', 'sha256', 'policy_revision', 'revision', 'root'])));
      assert.not.match(text, /4111.?1111.?1111.?1111/, 'the card numbers are masked');
      assert.match(text, /c318eb65-b13d-4221-9ce0-b283c1ec43d5/, 'the request id is kept');
    }
  }
});

test('the same shape and scrub with another keep set: the kept names follow the set', () => {
  const v = { a: 'id-42', b: 'id-42' };
  for (let i = 0; i < 2; i++) {
    assert.is(canonicalJson(v, digitsToHash, new Set(['a'])), '{"a":"id-42","b":"id-##"}');
    assert.is(canonicalJson(v, digitsToHash, new Set(['b'])), '{"a":"id-##","b":"id-42"}');
    assert.is(canonicalJson(v, digitsToHash), '{"a":"id-##","b":"id-##"}');
  }
});

test('a name that scrubs to another name: the shape is remembered, the names are still scrubbed, the last value wins', () => {
  for (let i = 0; i < 3; i++) {
    assert.is(canonicalJson({ b1: 'x9', a: { '2': 1, '1': 2, z: ['a1'] } }, digitsToHash), '{"a":{"#":1,"z":["a#"]},"b#":"x#"}');
    assert.is(canonicalJson({ b1: 'x9', a: { '2': 1, '1': 2, z: ['a1'] } }), '{"a":{"1":2,"2":1,"z":["a1"]},"b1":"x9"}');
  }
});

test.run();
