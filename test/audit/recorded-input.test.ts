/**
 * The policy input serialised once (src/audit/recorded-input.ts `serialiseInput`): the text the
 * policy evaluates is `JSON.stringify(input)` byte for byte, the text the decision record keeps is
 * `recordInput(input)` byte for byte, and `rebuildInput` (what `policy diff` and what-if decide
 * again) gives back exactly the input evaluated, whatever a client puts in its claims, headers,
 * query and body (keys named `body`, text spelling `"body":null`, `__proto__`, lone surrogates).
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureBody, rebuildInput, recordInput, serialiseInput, type RequestDecisionEvent } from '../../src/audit/index.js';
import type { PolicyInput } from '../../src/contract/index.js';

const tricky = fc.oneof(fc.string(), fc.constantFrom('body', '"body":null', ',"body":null}', 'null', '__proto__', 'toJSON', '\ud800', '"', '\\'));
const json = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(tricky, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }));
const approval = fc.record({ kind: fc.constantFrom('replay', 'grant'), hold_id: fc.uuid(), grant_id: fc.option(fc.uuid()), expires_at: fc.string() });

const inputArb: fc.Arbitrary<PolicyInput> = fc.record({
  identity: fc.record({ sub: tricky, iss: fc.string(), groups: fc.array(tricky, { maxLength: 3 }), claims: fc.dictionary(tricky, json, { maxKeys: 5 }) }),
  request: fc.record({
    method: fc.constantFrom('GET', 'POST', 'DELETE'),
    path: tricky,
    query: fc.dictionary(tricky, fc.array(tricky, { maxLength: 2 }), { maxKeys: 3 }),
    headers: fc.dictionary(tricky, fc.oneof(tricky, fc.array(tricky, { maxLength: 2 })), { maxKeys: 4 }),
    body: json,
    body_bytes: fc.nat(),
  }),
  route: fc.record({ name: tricky }),
  usage: fc.record({ requests_last_minute: fc.nat() }),
  approval: fc.option(approval),
  grants: fc.array(approval, { maxLength: 2 }),
  time: fc.record({ now_ns: fc.nat() }),
}) as unknown as fc.Arbitrary<PolicyInput>;

/** A decision record as the gateway writes it for `input`, its body captured whole. */
function recorded(input: PolicyInput, policyInput: string): RequestDecisionEvent {
  return {
    type: 'request.decision', request_id: 'r', subject: input.identity.sub, groups: input.identity.groups, client: '127.0.0.1', route: 'r', upstream: 'u',
    method: input.request.method, path: '/', decision: { effect: 'allow', reason: 'ok', rules: [], policy_revision: 'rev' }, approval: null,
    request_body: captureBody(JSON.stringify(input.request.body), 1 << 30), policy_input: policyInput,
  } as RequestDecisionEvent;
}

test('property: evaluated is JSON.stringify(input), recorded is recordInput(input), byte for byte', () => {
  fc.assert(fc.property(inputArb, (input) => {
    const s = serialiseInput(input);
    assert.is(s.evaluated, JSON.stringify(input));
    assert.is(s.recorded, recordInput(input));
  }), { numRuns: 1000 });
});

test('property: the recorded input, its body put back, is exactly the input evaluated', () => {
  fc.assert(fc.property(inputArb, (input) => {
    const s = serialiseInput(input);
    const rebuilt = rebuildInput(recorded(input, s.recorded));
    assert.is(rebuilt.skip, null);
    assert.equal(rebuilt.input, JSON.parse(s.evaluated));
    assert.is(JSON.stringify(rebuilt.input), s.evaluated);
  }), { numRuns: 500 });
});

test('a request whose members are in another order, or missing, is cut at its own body', () => {
  const base = { identity: { sub: 'a', groups: [], claims: { body: null } }, route: { name: 'r' }, usage: { requests_last_minute: 1 }, approval: null, grants: [], time: { now_ns: 1 } };
  for (const request of [
    { body: { n: 1 }, method: 'GET' },
    { method: 'GET', headers: { body: 'x' }, body: [1, 2] },
    { method: 'GET', skipped: undefined, body: 'text', after: undefined },
    { body: null },
  ]) {
    for (const input of [{ ...base, request }, { request, ...base }]) {
      const s = serialiseInput(input as unknown as PolicyInput);
      assert.is(s.evaluated, JSON.stringify(input));
      assert.is(s.recorded, recordInput(input as unknown as PolicyInput));
    }
  }
});

test('toJSON on a member, or a body that serialises to nothing: the same texts, by two serialisations', () => {
  const withKey = { toJSON: (key: string) => `key:${key}` };
  const cases = [
    { identity: { sub: 'a' }, request: { method: 'GET', body: withKey }, approval: withKey },
    { identity: { sub: 'a' }, request: { method: 'GET', body: undefined } },
    { identity: { sub: 'a' }, request: { method: 'GET', body: 1, when: new Date(0) } },
  ];
  for (const input of cases) {
    const s = serialiseInput(input as unknown as PolicyInput);
    assert.is(s.evaluated, JSON.stringify(input));
    assert.is(s.recorded, recordInput(input as unknown as PolicyInput));
  }
});

test.run();
