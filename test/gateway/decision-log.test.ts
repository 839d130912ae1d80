/**
 * The gateway's decision logs and status reports against a receiver that checks OPA's schema, and
 * /healthz with the bundle: each policy decision arrives as an OPA event whose decision_id is the
 * client's x-request-id, with card data masked; a status report follows the bundle.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReportSink } from '../decision-log/sink.js';
import { startRig, type Rig } from './harness.js';

let rig: Rig;
let sink: ReportSink;

test.before(async () => {
  sink = await new ReportSink().start();
  const service = (resource: string) => ({ url: sink.url, resource, credentials: undefined, tls: undefined, timeout_ms: 2000 });
  rig = await startRig({
    reporting: {
      decision_logs: { service: service('/logs'), min_delay_seconds: 3600, max_delay_seconds: 3600, upload_size_limit_bytes: 32768, buffer_size_limit_events: 1000 },
      status: { service: service('/status'), interval_seconds: 3600 },
      labels: { app: 'payments-gateway' },
    },
  });
});
test.after(() => sink.stop());

test('/healthz names the bundle revision and when it was activated; ?bundles is 200 once it is', async () => {
  const res = await fetch(`${rig.gw.adminUrl}/healthz`);
  assert.is(res.status, 200);
  const body = (await res.json()) as { status: string; bundle: { revision: string; activated_at: string; origin: string } };
  assert.is(body.status, 'ok');
  assert.match(body.bundle.revision, /\S/);
  assert.ok(Math.abs(Date.parse(body.bundle.activated_at) - Date.now()) < 600_000, body.bundle.activated_at);
  assert.is(body.bundle.origin, 'source');
  assert.is((await fetch(`${rig.gw.adminUrl}/healthz?bundles`)).status, 200);
});

test('each policy decision is an OPA decision-log event (decision_id = x-request-id, card data masked); status follows the bundle', async () => {
  const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const ids: string[] = [];
  for (const pan of ['4111 1111 1111 1111', '5555555555554444']) {
    const res = await fetch(`${rig.gw.url}/v1/score`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ card: { pan }, amount: 12 }) });
    await res.arrayBuffer();
    ids.push(res.headers.get('x-request-id')!);
  }
  await fetch(`${rig.gw.url}/nowhere`).then((r) => r.arrayBuffer());
  await rig.stop();
  assert.equal(sink.problems, []);
  const events = sink.events();
  assert.equal(events.map((e) => e.decision_id), ids, 'one event per policy decision, none for the unrouted request');
  const wire = JSON.stringify(events);
  assert.not.ok(wire.includes('4111 1111 1111 1111') || wire.includes('5555555555554444'), 'no card number leaves');
  const first = events[0]! as { labels: Record<string, string>; path: string; input: { request: { path: string; body: unknown } }; result: { effect: string }; bundles: Record<string, { revision: string }> };
  assert.is(first.labels.app, 'payments-gateway');
  assert.is(first.path, 'regate/decision');
  assert.is(first.input.request.path, '/v1/score');
  assert.ok(['allow', 'mask'].includes(first.result.effect), first.result.effect);
  const revision = first.bundles.regate!.revision;
  const reports = sink.statuses as { bundles: Record<string, { active_revision: string; last_successful_activation: string }>; plugins: Record<string, { state: string }> }[];
  assert.ok(reports.length >= 2, `${reports.length} status reports`);
  const last = reports.at(-1)!;
  assert.is(last.bundles.regate!.active_revision, revision);
  assert.is(last.plugins.bundle!.state, 'OK');
  assert.is(last.plugins.decision_logs!.state, 'OK');
});

test.run();
