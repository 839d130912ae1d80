import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DEFAULT_BUNDLE, loadBundle, PolicyDecisionError, PolicyEvalError, type PolicyEngine } from '../../src/policy/index.js';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { parseBundle } from '../../src/policy/bundle.js';
import { readTarGz } from '../../src/policy/tar.js';
import { hasCode } from '../../src/util/errors.js';
import { compileBundle, input, tempDir } from './fixtures.js';

let engine: PolicyEngine;
const tmp = await tempDir();

test.before(async () => {
  engine = await loadBundle(DEFAULT_BUNDLE);
});
test.after(() => tmp.cleanup());

test('committed bundle: fraud analysts may score, PAN last4 and CVV full in the response', () => {
  const d = engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score'));
  assert.is(d.allow, true);
  assert.is(d.hold, null);
  assert.equal(d.mask.request, []);
  assert.ok(d.mask.response.some((r) => r.detector === 'pan' && r.format === 'last4'));
  assert.ok(d.mask.response.some((r) => r.detector === 'cvv' && r.format === 'full'));
  assert.match(engine.revision, /^sha256:[0-9a-f]{16}$/);
});

test('committed bundle: bulk transactions are held for pci-approvers, an approved replay is let through', () => {
  const bulk = input(['fraud-analysts'], 'GET', '/v1/transactions');
  bulk.request.query = { limit: ['5000'] };
  const held = engine.evaluate(bulk);
  assert.is(held.allow, false);
  assert.equal(held.hold?.approvers, ['pci-approvers']);
  const approved = engine.evaluate({
    ...bulk,
    approval: { hold_id: 'h1', approvers: ['bob'], approved_at_ns: 10, kind: 'replay', expires_at_ns: 5_000 },
  });
  assert.is(approved.allow, true);
  assert.is(approved.hold, null);
});

test('committed bundle: others are denied with a reason', () => {
  const d = engine.evaluate(input(['support-agents'], 'DELETE', '/v1/models/m1'));
  assert.is(d.allow, false);
  assert.match(d.reason, /requires ml-admins/);
});

test('committed bundle: the decision names the rules that decided it', () => {
  assert.equal(engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score')).rules, ['allow.permitted', 'mask.card_data.response']);
  assert.equal(engine.evaluate(input(['support-agents'], 'POST', '/v1/score')).rules, ['deny.group_required']);
  const bulk = input(['fraud-analysts'], 'GET', '/v1/transactions');
  bulk.request.query = { limit: ['5000'] };
  assert.equal(engine.evaluate(bulk).rules, ['hold.bulk_limit', 'mask.card_data.response']);
});

test('rules that are not a list of non-empty strings fail closed with ERR_POLICY_DECISION', async () => {
  for (const rules of ['"deny.x"', '[""]', '[1]']) {
    const bad = await loadBundle(await compileBundle(tmp.dir, `package regate\n\ndecision := {"allow": false, "reason": "", "mask": {"request": [], "response": []}, "hold": null, "rules": ${rules}}\n`));
    assert.throws(() => bad.evaluate(input([], 'GET', '/')), (err: unknown) => hasCode(err, 'ERR_POLICY_DECISION') && /"rules" is not a list of rule ids/.test((err as Error).message), rules);
  }
});

const groupsArb = fc.subarray(['fraud-analysts', 'pci-admins', 'ml-admins', 'support-agents', 'pci-approvers', 'x']);
const reqArb = fc.record({
  groups: groupsArb,
  method: fc.constantFrom('GET', 'POST', 'DELETE', 'post'),
  path: fc.constantFrom('/v1/score', '/v1/transactions', '/v1/chat/completions', '/v1/models/load', '/v1/models/a', '/', '/v1/x'),
  limit: fc.option(fc.oneof(fc.integer({ min: -10, max: 100_000 }).map(String), fc.string()), { nil: undefined }),
  rate: fc.integer({ min: 0, max: 200 }),
  body: fc.jsonValue({ maxDepth: 3 }),
});

test('object and pre-serialised inputs (string and bytes) give the same validated decision', () => {
  fc.assert(
    fc.property(reqArb, (r) => {
      const inp = input(r.groups, r.method, r.path, { usage: { requests_last_minute: r.rate } });
      if (r.limit !== undefined) inp.request.query = { limit: [r.limit] };
      inp.request.body = r.body;
      const d = engine.evaluate(inp);
      assert.equal(engine.evaluateJson(JSON.stringify(inp)), d);
      assert.equal(engine.evaluateJson(new TextEncoder().encode(JSON.stringify(inp))), d);
      if (d.hold) assert.is(d.allow, false);
    }),
    { numRuns: 300 },
  );
});

test('a 64 KB prompt is evaluated (memory grows) and later small inputs still work', () => {
  const chat = input(['support-agents'], 'POST', '/v1/chat/completions');
  chat.request.body = { messages: [{ role: 'user', content: 'card 4111 1111 1111 1111 '.repeat(2700) }] };
  assert.is(engine.evaluate(chat).allow, true);
  assert.is(engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score')).allow, true);
});

test('a decision outside the contract fails closed with ERR_POLICY_DECISION naming the field', async () => {
  const bad = await loadBundle(await compileBundle(tmp.dir, 'package regate\n\ndecision := {"allow": "yes", "reason": "", "mask": {"request": [], "response": []}, "hold": null}\n'));
  try {
    bad.evaluate(input([], 'GET', '/'));
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, PolicyDecisionError);
    assert.ok(hasCode(err, 'ERR_POLICY_DECISION'));
    assert.match((err as Error).message, /"allow" is not a boolean/);
  }
});

test('an undefined decision fails closed with ERR_POLICY_DECISION', async () => {
  const undef = await loadBundle(await compileBundle(tmp.dir, 'package regate\n\ndecision := {"allow": true, "reason": "", "mask": {"request": [], "response": []}, "hold": null} if input.never\n'));
  assert.throws(() => undef.evaluate(input([], 'GET', '/')), (err: unknown) => hasCode(err, 'ERR_POLICY_DECISION') && /undefined/.test((err as Error).message));
});

test('a runtime error in the module (conflicting rule values) fails closed with ERR_POLICY_EVAL', async () => {
  const conflict = await loadBundle(
    await compileBundle(
      tmp.dir,
      'package regate\n\nd := {"allow": true, "reason": "a", "mask": {"request": [], "response": []}, "hold": null}\n\ndecision := d if input.x\n\ndecision := object.union(d, {"reason": "b"}) if input.y\n',
    ),
  );
  const ok = conflict.evaluateJson('{"x": true}');
  assert.is(ok.reason, 'a');
  assert.throws(() => conflict.evaluateJson('{"x": true, "y": true}'), (err: unknown) => err instanceof PolicyEvalError && hasCode(err, 'ERR_POLICY_EVAL'));
  assert.is(conflict.evaluateJson('{"y": true}').reason, 'b', 'the engine keeps working after a trap');
});

test('malformed pre-serialised JSON reaches the policy as no input, and the default policy denies it', () => {
  const d = engine.evaluateJson('{"identity": ');
  assert.is(d.allow, false);
  assert.is(d.hold, null);
});

test('a decision seen before is returned frozen, the same object: no request can change the decision the next one gets', () => {
  const first = engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score'));
  const again = engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score'));
  assert.is(again, first, 'the same text gives the same validated decision');
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.mask) && Object.isFrozen(first.mask.response) && Object.isFrozen(first.mask.response[0]));
  assert.throws(() => (first.mask.response as unknown[]).length = 0, TypeError);
  assert.throws(() => { (first as { allow: boolean }).allow = false; }, TypeError);
  assert.throws(() => { (first.mask.response[0] as { format: string }).format = 'full'; }, TypeError);
  const other = engine.evaluate(input(['support-agents'], 'POST', '/v1/score'));
  assert.is.not(other, first);
  assert.is(other.allow, false);
  assert.equal(engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score')).mask.response.map((r) => r.format), ['last4', 'full', 'full']);
});

test('kept decisions match the opa-wasm SDK deciding afresh, also past the number of texts kept', async () => {
  const sdkLib = createRequire(import.meta.url)('@open-policy-agent/opa-wasm') as typeof import('@open-policy-agent/opa-wasm');
  const bundle = parseBundle(readTarGz(await readFile(DEFAULT_BUNDLE)), engine.entrypoint);
  const sdk = sdkLib.loadPolicySync(new WebAssembly.Module(bundle.wasm), { initial: 5 });
  sdk.setData(bundle.data as object);
  fc.assert(
    fc.property(reqArb, (r) => {
      const inp = input(r.groups, r.method, r.path, { usage: { requests_last_minute: r.rate } });
      if (r.limit !== undefined) inp.request.query = { limit: [r.limit] };
      inp.request.body = r.body;
      assert.equal(engine.evaluate(inp), (sdk.evaluate(inp, engine.entrypoint) as { result: unknown }[])[0]!.result);
    }),
    { numRuns: 300 },
  );
  // 600 distinct decisions (the reason names the number): more than are kept, and each still its own.
  const numbered = await loadBundle(await compileBundle(tmp.dir, 'package regate\n\ndecision := {"allow": true, "reason": sprintf("n=%d", [input.n]), "mask": {"request": [], "response": []}, "hold": null}\n'));
  for (let round = 0; round < 2; round++) {
    for (let n = 0; n < 600; n++) assert.is(numbered.evaluateJson(`{"n": ${n}}`).reason, `n=${n}`);
  }
});

test('a decision outside the contract is refused every time, never kept', async () => {
  const bad = await loadBundle(await compileBundle(tmp.dir, 'package regate\n\ndecision := {"allow": true, "reason": "", "mask": {"request": [{"detecter": "pan"}], "response": []}, "hold": null}\n'));
  for (let i = 0; i < 3; i++) assert.throws(() => bad.evaluate(input([], 'GET', '/')), (err: unknown) => hasCode(err, 'ERR_POLICY_DECISION'));
});

test.run();
