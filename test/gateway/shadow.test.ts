import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setImmediate as tick } from 'node:timers/promises';
import type { AuditEvent, ShadowDisagreementEvent } from '../../src/audit/index.js';
import { DEFAULT_BUNDLE, loadBundle, type PolicyEngine, type PolicyInput } from '../../src/policy/index.js';
import { Logger } from '../../src/proxy/log.js';
import { GatewayMetrics } from '../../src/proxy/metrics.js';
import { ShadowObserver, type ShadowPolicy } from '../../src/proxy/shadow.js';
import { auditFixture, bundleVariant } from '../policy-diff/fixtures.js';
import { input } from '../policy/fixtures.js';
import { LogSink } from './harness.js';

let enforced: PolicyEngine;
let shadow: PolicyEngine;

test.before(async () => {
  enforced = await loadBundle(DEFAULT_BUNDLE);
  shadow = await loadBundle(await bundleVariant('sha256:shadow000000001', (d) => (d.pci.operations.transactions.groups = ['pci-admins'])));
});

function rig(policy: ShadowPolicy, limit?: number) {
  const metrics = new GatewayMetrics();
  const logs = new LogSink();
  const events: AuditEvent[] = [];
  return { metrics, logs, events, setup: (append: (e: AuditEvent) => Promise<unknown>) => new ShadowObserver({ current: () => policy }, { append, metrics, logger: new Logger(logs, 'info') }, limit) };
}

const facts = (id: string, inp: PolicyInput) => ({ request_id: id, subject: inp.identity.sub, route: inp.route.name });

test('the shadow decides after observe returns, counts agreements and records each disagreement with both decisions in the real log', async () => {
  const f = await auditFixture();
  try {
    const log = await f.open();
    let asked = 0;
    const counting: ShadowPolicy = { revision: shadow.revision, evaluateJson: (json) => (asked++, shadow.evaluateJson(json)) };
    const r = rig(counting);
    const observer = r.setup((e) => log.append(e));
    const analyst = input(['fraud-analysts'], 'GET', '/v1/transactions');
    const admin = input(['pci-admins'], 'GET', '/v1/transactions');
    observer.observe(facts('r1', analyst), analyst, enforced.revision, { decision: enforced.evaluate(analyst) });
    observer.observe(facts('r2', admin), admin, enforced.revision, { decision: enforced.evaluate(admin) });
    assert.is(asked, 0, 'nothing is decided on the caller’s turn');
    await observer.close();
    assert.is(asked, 2);
    assert.is(r.metrics.shadowDecisions.get({ result: 'agree' }), 1);
    assert.is(r.metrics.shadowDecisions.get({ result: 'disagree' }), 1);
    assert.is(r.metrics.shadowDisagreements.get({ kind: 'allow_to_deny' }), 1);
    assert.match(r.metrics.render(), /regate_shadow_disagreements_total\{kind="allow_to_deny"\} 1/);
    await log.close();
    const recorded = (await f.records()).map((x) => x.event).filter((e): e is ShadowDisagreementEvent => e.type === 'policy.shadow_disagreement');
    assert.is(recorded.length, 1);
    const e = recorded[0]!;
    assert.is(e.request_id, 'r1');
    assert.is(e.kind, 'allow_to_deny');
    assert.equal([e.enforced.policy_revision, e.enforced.effect, e.enforced.rules], [enforced.revision, 'mask', ['allow.permitted', 'mask.card_data.response']]);
    assert.equal([e.shadow.policy_revision, e.shadow.effect, e.shadow.rules], ['sha256:shadow000000001', 'deny', ['deny.group_required']]);
    assert.is(e.shadow.reason, 'GET /v1/transactions requires one of: pci-admins');
  } finally {
    f.cleanup();
  }
});

test('a failing shadow is a disagreement of kind *_to_error; a failing audit write is logged, never thrown', async () => {
  const broken: ShadowPolicy = { revision: 'sha256:broken', evaluateJson: () => { throw new Error('trap'); } };
  const r = rig(broken);
  const observer = r.setup(() => Promise.reject(new Error('disk full')));
  const inp = input(['fraud-analysts'], 'POST', '/v1/score');
  observer.observe(facts('r1', inp), inp, enforced.revision, { decision: enforced.evaluate(inp) });
  await observer.close();
  assert.is(r.metrics.shadowDisagreements.get({ kind: 'allow_to_error' }), 1);
  assert.match(r.logs.text, /audit shadow disagreement record failed.*disk full/);
});

test('a full queue drops shadow decisions and counts them, instead of queueing without bound', async () => {
  const r = rig(shadow, 3);
  const seen: AuditEvent[] = [];
  const observer = r.setup(async (e) => void seen.push(e));
  const inp = input(['fraud-analysts'], 'GET', '/v1/transactions');
  const d = { decision: enforced.evaluate(inp) };
  for (let i = 0; i < 5; i++) observer.observe(facts(`r${i}`, inp), inp, enforced.revision, d);
  await observer.close();
  assert.is(r.metrics.shadowDecisions.get({ result: 'dropped' }), 2);
  assert.is(r.metrics.shadowDecisions.get({ result: 'disagree' }), 3);
  assert.equal(seen.map((e) => (e as ShadowDisagreementEvent).request_id), ['r0', 'r1', 'r2']);
  // The queue is free again once drained.
  observer.observe(facts('r9', inp), inp, enforced.revision, d);
  await tick();
  await observer.close();
  assert.is(r.metrics.shadowDecisions.get({ result: 'disagree' }), 4);
});

test.run();
