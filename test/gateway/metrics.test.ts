/**
 * The admin listener's /metrics as an operator scrapes it: process and Node runtime metrics,
 * regate_build_info, the bundle, key-set loads, audit appends, pending holds, and a held request's
 * approval wait in its own histogram, out of the request-latency histogram.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VERSION } from '../../src/util/index.js';
import { startRig, type Rig } from './harness.js';

let rig: Rig;
let approver: string;
test.before(async () => {
  rig = await startRig({ holdWaitSeconds: 30, metricsPublic: true });
  approver = await rig.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
});
test.after(() => rig.stop());

const scrape = async () => (await fetch(`${rig.gw.adminUrl}/metrics`)).text();
/** The value of one series line (`name{labels}`), or undefined. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('process, runtime, build, bundle, key-set and audit metrics are exposed', async () => {
  const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  await (await fetch(`${rig.gw.url}/v1/score`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: '{}' })).arrayBuffer();
  const text = await scrape();
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(value(text, name) !== undefined, `${name} is exposed`);
  }
  assert.is(value(text, `regate_build_info{version="${VERSION}",node_version="${process.version}"}`), 1);
  const revision = ((await (await fetch(`${rig.gw.adminUrl}/healthz`)).json()) as { bundle: { revision: string } }).bundle.revision;
  assert.is(value(text, `regate_bundle_info{revision="${revision}",origin="source"}`), 1);
  assert.is(value(text, 'regate_bundle_loads_total{result="loaded"}'), 1);
  assert.is(value(text, 'regate_bundle_source_failures'), 0);
  assert.ok(value(text, 'regate_bundle_activation_timestamp_seconds')! > Date.now() / 1000 - 3600);
  assert.is(value(text, 'regate_jwks_loads_total{result="ok"}'), 1);
  assert.is(value(text, 'regate_jwks_loads_total{result="failed"}'), 0);
  assert.ok(value(text, 'regate_audit_append_seconds_count')! >= 3, 'start, bundle and the request were appended');
  assert.match(text, /# TYPE regate_audit_append_failures_total counter/);
});

test('a held request: pending holds counted while it waits; its approval wait goes to regate_hold_wait_seconds, not the request latency', async () => {
  const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const answer = fetch(`${rig.gw.url}/v1/transactions?limit=5000`, { headers: { authorization: `Bearer ${alice}` } });
  let hold: { id: string } | undefined;
  for (let i = 0; i < 250 && !hold; i++) {
    const res = await fetch(`${rig.gw.adminUrl}/api/holds?state=pending`, { headers: { authorization: `Bearer ${approver}` } });
    hold = ((await res.json()) as { holds: { id: string }[] }).holds[0];
    if (!hold) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(hold, 'the request is held');
  assert.is(value(await scrape(), 'regate_holds_pending'), 1);
  await new Promise((r) => setTimeout(r, 1200)); // the approver takes a while
  const approved = await fetch(`${rig.gw.adminUrl}/api/holds/${hold!.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: '{}' });
  assert.is(approved.status, 200);
  const res = await answer;
  await res.arrayBuffer();
  assert.is(res.status, 200);
  const text = await scrape();
  assert.is(value(text, 'regate_holds_pending'), 0);
  assert.is(value(text, 'regate_hold_wait_seconds_count{route="transactions",outcome="approved"}'), 1);
  const waited = value(text, 'regate_hold_wait_seconds_sum{route="transactions",outcome="approved"}')!;
  assert.ok(waited >= 1.2, `waited ${waited} s`);
  const latency = value(text, 'regate_request_duration_seconds_sum{route="transactions"}')!;
  assert.ok(latency < waited, `request latency ${latency} s excludes the ${waited} s wait`);
});

test.run();
