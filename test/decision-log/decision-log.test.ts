/**
 * Decision logs in OPA's format against a real HTTP receiver that checks OPA's event schema:
 * batching, gzip, the size limit, retries without loss or duplicates, the bounded buffer, masking
 * (property-tested: no card number leaves, `masked` names exactly what changed), and status reports.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestDecisionEvent } from '../../src/audit/index.js';
import { DecisionLogUploader, opaEvent, startReporting, statusReport, type OpaDecisionEvent } from '../../src/decision-log/index.js';
import { compileMaskPlan, maskText } from '../../src/mask/index.js';
import type { WatchStatus } from '../../src/policy/index.js';
import { httpService } from '../../src/util/http-service.js';
import { VERSION } from '../../src/util/version.js';
import { fillerArb, panArb } from '../mask/cards.js';
import { tempDir } from '../policy/fixtures.js';
import { ReportSink, schemaProblems } from './sink.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());

// The audit log's scrubber: every card detector (src/proxy/masking.ts CARD_RULES).
const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }, { detector: 'cvv', format: 'full' }, { detector: 'track', format: 'full' }, { detector: 'expiry', format: 'full' }]);
const scrub = (s: string) => maskText(plan, s).text;
const ctx = { labels: { app: 'payments', id: 'i-1', version: VERSION }, bundleName: 'regate', path: 'regate/decision', scrub };

function decision(n: number, body: unknown = { q: n }): RequestDecisionEvent {
  const input = { identity: { sub: 'alice', iss: 'https://idp.test', groups: ['fraud-analysts'], claims: {} }, request: { method: 'POST', path: '/v1/score', query: {}, headers: {}, body: null, body_bytes: 9 }, route: { name: 'fraud-model' } };
  const text = JSON.stringify(body);
  return {
    type: 'request.decision', request_id: `req-${n}`, subject: 'alice', groups: ['fraud-analysts'], client: '127.0.0.1', route: 'fraud-model', upstream: 'fraud',
    method: 'POST', path: '/v1/score', decision: { effect: 'allow', reason: 'ok', policy_revision: 'rev-7', rules: ['allow.fraud'] }, approval: null,
    request_body: { bytes: text.length, sha256: 'x', text, truncated: false }, policy_input: JSON.stringify(input),
  };
}

const service = () => httpService({}, 'decision_logs.service');
const uploaderFor = async (sink: ReportSink, over: Partial<ConstructorParameters<typeof DecisionLogUploader>[0]> = {}) =>
  new DecisionLogUploader({ url: `${sink.url}/logs`, service: await service(), minDelaySeconds: 3600, maxDelaySeconds: 3600, uploadSizeLimitBytes: 32768, bufferSizeLimitEvents: 10000, ...over });

test('a decision as an OPA event: decision_id is the request id, bundles names the revision, input carries the masked body', () => {
  const e = opaEvent(decision(1, { card: '4111 1111 1111 1111', note: 'hi' }), ctx, new Date('2026-12-01T07:00:00.123Z'))!;
  assert.equal(schemaProblems(e), []);
  assert.is(e.decision_id, 'req-1');
  assert.equal(e.bundles, { regate: { revision: 'rev-7' } });
  assert.is(e.path, 'regate/decision');
  assert.equal(e.result, { effect: 'allow', reason: 'ok', rules: ['allow.fraud'] });
  assert.is(e.timestamp, '2026-12-01T07:00:00.123Z');
  const body = (e.input as { request: { body: { card: string; note: string } } }).request.body;
  assert.is(body.note, 'hi');
  assert.not.match(body.card, /4111 1111 1111 1111/);
  assert.equal(e.masked, ['/input/request/body/card']);
});

test('a refusal by the gateway itself (no policy ran) is not a decision-log event', () => {
  const refused = { ...decision(2), decision: { effect: 'deny' as const, reason: 'gateway refused (no_route)', policy_revision: null } };
  assert.is(opaEvent(refused, ctx, new Date()), undefined);
});

test('events are batched, gzipped and POSTed to /logs with the service token and regate/<version>, in order, each one OPA-shaped', async () => {
  const sink = await new ReportSink().start();
  const tokenFile = join(tmp.dir, 'logs.token');
  writeFileSync(tokenFile, 'dl-token\n');
  const up = new DecisionLogUploader({ url: `${sink.url}/logs`, service: await httpService({ tokenFile }, 'decision_logs.service'), minDelaySeconds: 3600, maxDelaySeconds: 3600, uploadSizeLimitBytes: 32768, bufferSizeLimitEvents: 10000 });
  try {
    for (let i = 0; i < 50; i++) up.push(opaEvent(decision(i), ctx, new Date())!);
    await up.flush();
    assert.equal(sink.problems, []);
    assert.is(sink.uploads.length, 1, 'one batch');
    assert.is(sink.uploads[0]!.headers.authorization, 'Bearer dl-token');
    assert.is(sink.uploads[0]!.headers['user-agent'], `regate/${VERSION}`);
    assert.equal(sink.events().map((e) => e.decision_id), Array.from({ length: 50 }, (_, i) => `req-${i}`));
    assert.equal(up.stats(), { buffered: 0, uploadedEvents: 50, uploadedChunks: 1, droppedEvents: 0, failures: 0, lastError: null });
  } finally {
    await up.close();
    await sink.stop();
  }
});

test('no chunk exceeds upload_size_limit_bytes compressed; an event too large alone is dropped and counted', async () => {
  const sink = await new ReportSink().start();
  const up = await uploaderFor(sink, { uploadSizeLimitBytes: 2048 });
  try {
    const random = (n: number) => Array.from({ length: n }, (_, i) => ((i * 7919 + n) % 97).toString(36)).join('');
    for (let i = 0; i < 40; i++) up.push(opaEvent(decision(i, { text: random(300 + i) }), ctx, new Date())!);
    up.push({ ...opaEvent(decision(99), ctx, new Date())!, input: { huge: Array.from({ length: 4000 }, (_, i) => `${i * 104729}`).join(',') } } as OpaDecisionEvent);
    await up.flush();
    assert.equal(sink.problems, []);
    assert.ok(sink.uploads.length > 1, `${sink.uploads.length} chunks`);
    for (const u of sink.uploads) assert.ok(u.compressedBytes <= 2048, `${u.compressedBytes} bytes`);
    assert.equal(sink.events().map((e) => e.decision_id), Array.from({ length: 40 }, (_, i) => `req-${i}`));
    assert.is(up.stats().droppedEvents, 1);
  } finally {
    await up.close();
    await sink.stop();
  }
});

test('the service failing: nothing is lost or sent twice; the failure says why and the events go when it recovers', async () => {
  const sink = await new ReportSink().start();
  const errors: Error[] = [];
  const up = await uploaderFor(sink, { onError: (e) => errors.push(e) });
  try {
    for (let i = 0; i < 5; i++) up.push(opaEvent(decision(i), ctx, new Date())!);
    sink.status = 503;
    await up.flush();
    assert.match(errors[0]!.message, new RegExp(`the decision-log service ${sink.url}/logs answered HTTP 503; the server failed`));
    assert.is(up.stats().buffered, 5);
    for (let i = 5; i < 8; i++) up.push(opaEvent(decision(i), ctx, new Date())!);
    sink.status = 200;
    await up.flush();
    assert.equal(sink.events().map((e) => e.decision_id), Array.from({ length: 8 }, (_, i) => `req-${i}`));
    assert.is(up.stats().buffered, 0);
  } finally {
    await up.close();
    await sink.stop();
  }
});

test('the buffer is bounded: past buffer_size_limit_events the oldest are dropped and counted', async () => {
  const sink = await new ReportSink().start();
  const up = await uploaderFor(sink, { bufferSizeLimitEvents: 10 });
  try {
    for (let i = 0; i < 25; i++) up.push(opaEvent(decision(i), ctx, new Date())!);
    assert.is(up.stats().droppedEvents, 15);
    await up.flush();
    assert.equal(sink.events().map((e) => e.decision_id), Array.from({ length: 10 }, (_, i) => `req-${i + 15}`));
  } finally {
    await up.close();
    await sink.stop();
  }
});

/** The value a JSON pointer names. */
function at(doc: unknown, pointer: string): unknown {
  return pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~')).reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], doc);
}

test('property: no card number reaches the receiver, whatever the body; masked names exactly the strings that changed', async () => {
  const sink = await new ReportSink().start();
  const up = await uploaderFor(sink);
  try {
    // Spaces around the number: a digit run touching a letter is not a card number (docs/masking.md).
    const leaf = fc.oneof(fc.tuple(fillerArb, panArb, fillerArb).map(([a, p, b]) => ({ text: `${a} ${p.printed} ${b}`, pan: p.digits })), fillerArb.map((text) => ({ text, pan: null })));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'note', 'x/y'), leaf), { minLength: 1, maxLength: 5 }), async (fields) => {
        sink.uploads.length = 0;
        const body: Record<string, string> = {};
        for (const [k, v] of fields) body[k] = v.text;
        up.push(opaEvent(decision(1, body), ctx, new Date())!);
        await up.flush();
        const [event] = sink.events();
        const wire = JSON.stringify(event);
        for (const [, v] of fields) if (v.pan) assert.not.ok(wire.includes(v.pan) || wire.includes(v.pan.slice(0, 12)), 'a card number left');
        const sent = (event!.input as { request: { body: Record<string, string> } }).request.body;
        const changed = Object.keys(body).filter((k) => sent[k] !== body[k]).map((k) => `/input/request/body/${k.replace(/\//g, '~1')}`).sort();
        assert.equal([...((event!.masked as string[] | undefined) ?? [])].sort(), changed);
        for (const p of changed) assert.type(at(event, p), 'string');
      }),
      { numRuns: 150 },
    );
    assert.equal(sink.problems, []);
  } finally {
    await up.close();
    await sink.stop();
  }
});

const bundleStatus = (over: Partial<WatchStatus> = {}): WatchStatus => ({
  revision: 'rev-7', activatedAt: new Date('2026-12-01T07:00:00Z'), origin: 'source', lastError: undefined, failures: 0, longPolling: false,
  lastRequest: new Date('2026-12-01T07:05:00Z'), lastSuccessfulRequest: new Date('2026-12-01T07:05:00Z'), lastSuccessfulDownload: new Date('2026-12-01T07:00:00Z'), ...over,
});

test('status report: OPA\'s fields for the bundle; a failing source is reported with its error and an ERROR plugin state', () => {
  const ok = statusReport({ id: 'i' }, 'regate', bundleStatus(), undefined) as { bundles: Record<string, Record<string, unknown>>; plugins: Record<string, { state: string }> };
  assert.equal(ok.bundles.regate, {
    name: 'regate', active_revision: 'rev-7', last_request: '2026-12-01T07:05:00.000Z', last_successful_request: '2026-12-01T07:05:00.000Z',
    last_successful_download: '2026-12-01T07:00:00.000Z', last_successful_activation: '2026-12-01T07:00:00.000Z',
  });
  assert.is(ok.plugins.bundle!.state, 'OK');
  const failing = statusReport({ id: 'i' }, 'regate', bundleStatus({ failures: 2, lastError: { message: 'cannot fetch bundle from x: connection refused', code: 'ERR_BUNDLE_FETCH', at: new Date() } }), { buffered: 3, uploadedEvents: 0, uploadedChunks: 0, droppedEvents: 4, failures: 1, lastError: 'HTTP 503' }) as Record<string, any>;
  assert.is(failing.bundles.regate.code, 'bundle_error');
  assert.match(failing.bundles.regate.message, /connection refused/);
  assert.equal(failing.plugins, { bundle: { state: 'ERROR' }, status: { state: 'OK' }, decision_logs: { state: 'ERROR' } });
  assert.equal(failing.decision_logs, { code: 'decision_log_error', message: 'HTTP 503' });
  assert.is(failing.metrics.prometheus.counter_decision_logs_dropped_buffer_size_limit_exceeded, 4);
});

test('startReporting: decisions reach /logs on close, status reaches /status when asked, on an audited bundle load and at close, with id and version labels', async () => {
  const sink = await new ReportSink().start();
  let status = bundleStatus();
  const errors: string[] = [];
  const r = await startReporting({
    decisionLogs: { url: sink.url, resource: '/logs', minDelaySeconds: 3600, maxDelaySeconds: 3600, uploadSizeLimitBytes: 32768, bufferSizeLimitEvents: 100 },
    status: { url: `${sink.url}/`, resource: 'status', intervalSeconds: 3600 },
    labels: { app: 'payments' }, path: 'regate/decision', scrub, bundle: () => status, onError: (what, err) => errors.push(`${what}: ${err.message}`),
  });
  await r.reportStatus();
  r.record(decision(1));
  r.record({ type: 'gateway.start', version: VERSION, reason: null } as never);
  status = bundleStatus({ revision: 'rev-8' });
  r.record({ type: 'bundle.loaded', source: 'x', revision: 'rev-8', reason: 'signature verified' });
  await r.close();
  await sink.stop();
  assert.equal(errors, []);
  assert.equal(sink.problems, []);
  assert.equal(sink.events().map((e) => e.decision_id), ['req-1']);
  const labels = sink.events()[0]!.labels as Record<string, string>;
  assert.is(labels.app, 'payments');
  assert.is(labels.version, VERSION);
  assert.match(labels.id!, /^[0-9a-f-]{36}$/);
  const revisions = sink.statuses.map((s) => (s.bundles as Record<string, { active_revision: string }>).regate!.active_revision);
  assert.equal(revisions, ['rev-7', 'rev-8', 'rev-8']);
  assert.equal(sink.statuses[0]!.labels, labels);
});

test.run();
