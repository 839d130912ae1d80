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
import { readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { startGateway } from '../../src/app/index.js';
import { LogSink, startIdp, startRig, testConfig } from './harness.js';

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

test('through the real gateway: answers are the enforced policy’s, disagreements are counted in /metrics and audited, both bundles kept by revision', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-shadow-'));
  const shadowFile = join(dir, 'next.tar.gz');
  writeFileSync(shadowFile, await bundleVariant('sha256:shadow000000001', (d) => (d.pci.operations.transactions.groups = ['pci-admins'])));
  const rig = await startRig({ keepState: true, metricsPublic: true, policy: { shadow: { bundle: shadowFile } } });
  let ids: string[] = [];
  try {
    const analyst = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const statuses: number[] = [];
    for (const path of ['/v1/transactions?limit=5', '/v1/transactions?limit=6', '/v1/score']) {
      const r = await fetch(`${rig.gw.url}${path}`, { method: path === '/v1/score' ? 'POST' : 'GET', headers: { authorization: `Bearer ${analyst}`, 'content-type': 'application/json' }, body: path === '/v1/score' ? '{}' : undefined });
      await r.arrayBuffer();
      statuses.push(r.status);
      ids.push(r.headers.get('x-request-id')!);
    }
    assert.equal(statuses, [200, 200, 200], 'the shadow would deny the listings; the enforced policy allows them, and it alone answers');
    ids = ids.slice(0, 2);
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const metrics = await (await fetch(`${rig.gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /regate_shadow_disagreements_total\{kind="allow_to_deny"\} 2/);
    assert.match(metrics, /regate_shadow_decisions_total\{result="agree"\} 1/);
  } finally {
    await rig.stop();
  }
  try {
    assert.equal(readdirSync(join(rig.stateDir, 'bundle-revisions')).sort(), [`${enforced.revision.replace(':', '-')}.tar.gz`, 'sha256-shadow000000001.tar.gz'].sort());
    const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
    const events = tail.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).event);
    const disagreements = events.filter((e) => e.type === 'policy.shadow_disagreement');
    assert.equal(disagreements.map((e) => [e.request_id, e.kind, e.enforced.effect, e.shadow.effect, e.subject, e.route]), ids.map((id) => [id, 'allow_to_deny', 'mask', 'deny', 'alice', 'transactions']));
    assert.ok(events.some((e) => e.type === 'bundle.loaded' && e.revision === 'sha256:shadow000000001' && /^shadow: /.test(e.reason)));
    const decision = events.find((e) => e.type === 'request.decision' && e.request_id === ids[0]);
    assert.equal(decision.decision.rules, ['allow.permitted', 'mask.card_data.response']);
    assert.equal(JSON.parse(decision.policy_input).request.query, { limit: ['5'] });
  } finally {
    rmSync(rig.stateDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a shadow bundle refused at start stops the start, naming policy.shadow.bundle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-shadow-'));
  const idp = await startIdp();
  try {
    writeFileSync(join(dir, 'broken.tar.gz'), 'not a bundle');
    await startGateway(testConfig(idp, 'http://127.0.0.1:9', { stateDir: dir, policy: { shadow: { bundle: join(dir, 'broken.tar.gz') } } }), { log: new LogSink() }).then(
      () => assert.unreachable('the gateway started'),
      (err: Error) => {
        assert.is((err as { code?: string }).code, 'ERR_STARTUP');
        assert.match(err.message, /policy\.shadow\.bundle .*broken\.tar\.gz refused: /);
      },
    );
  } finally {
    await idp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
