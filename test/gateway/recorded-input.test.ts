/**
 * The decision record keeps the input the policy decided on (src/audit/recorded-input.ts): through
 * a real gateway, real Wasm policy and real audit log, the text the policy evaluated and the
 * recorded `policy_input` (body put back from `request_body`, as `policy diff` and what-if rebuild
 * it) are the same input, byte for byte, for a request whose headers, query and body carry keys
 * named `body` and text spelling `"body":null`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rebuildInput, type AuditEvent, type RequestDecisionEvent } from '../../src/audit/index.js';
import { startInProcess } from './harness.js';

test('the recorded policy input, body put back, is byte for byte the input the policy evaluated', async () => {
  // The real policy and audit log, with the texts the policy is given and the events appended kept for the test.
  const evaluated: string[] = [];
  const appended: AuditEvent[] = [];
  const rig = await startInProcess({
    policy: (real) => ({ ...real, evaluate: (i) => real.evaluate(i), evaluateJson: (json) => (evaluated.push(json), real.evaluateJson(json)) }),
    audit: (real) => ({ append: (e) => (appended.push(e), real.append(e)) }),
  });
  try {
    const { url, idp } = rig;
    const token = await idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const body = JSON.stringify({ amount: 12.5, body: null, note: '"body":null', nested: { body: [1, 'x'] } });
    const r = await fetch(`${url}/v1/score?body=null&x=%22body%22:null`, {
      method: 'POST', body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', body: '"body":null', 'x-note': ',"body":null}' },
    });
    assert.is(r.status, 200, await r.text());
    const decision = appended.find((e): e is RequestDecisionEvent => e.type === 'request.decision')!;
    assert.is(evaluated.length, 1);
    const recorded = JSON.parse(decision.policy_input!);
    assert.is(recorded.request.body, null, 'the record keeps the body once, as request_body');
    assert.equal(recorded.request.query, { body: ['null'], x: ['"body":null'] });
    const rebuilt = rebuildInput(decision);
    assert.is(rebuilt.skip, null);
    assert.is(JSON.stringify(rebuilt.input), evaluated[0], 'the rebuilt input is what the policy evaluated');
    assert.equal(JSON.parse(evaluated[0]!).request.body, JSON.parse(body));
  } finally {
    await rig.stop();
  }
});

test.run();
